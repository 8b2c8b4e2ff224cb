"""Shared fixtures: real launcher runs in subprocesses, written to temporary folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CIFAR10_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def run_script(args: list[str], timeout: float = 240, env: dict | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run a repository script or module with this interpreter, as a user would."""
    completed = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
        )
    return completed


def run_launcher(script: str, results_dir: Path, *flags: str, timeout: float = 240) -> Path:
    """Run a launcher and return the folder of the experiment it wrote."""
    before = set(results_dir.iterdir()) if results_dir.exists() else set()
    run_script([f"experiments/{script}", "--results-dir", str(results_dir), *flags], timeout=timeout)
    created = [p for p in results_dir.iterdir() if p not in before and p.is_dir()]
    assert len(created) == 1, f"expected one new experiment, found {created}"
    return created[0]


def read_metadata(experiment: Path) -> dict:
    return json.loads((experiment / "metadata.json").read_text())


@pytest.fixture(scope="session")
def smoke_results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("smoke-results")


@pytest.fixture(scope="session")
def smoke_experiment(smoke_results_dir) -> Path:
    """A real 2-worker ASHA run on synthetic data: rungs at epochs 1, 2, 4 (max 8)."""
    return run_launcher(
        "run_asha.py", smoke_results_dir, "--smoke", "--workers", "2",
        "--max-wallclock-time", "20", "--max-epochs", "8", "--grace-period", "1",
        "--reduction-factor", "2", "--seed", "1",
    )
