"""The shape of the code, where a rule keeps it easy to change: functions short enough to read
at once, and every metadata key a run writes named in `analysis.experiment_folder`."""

from __future__ import annotations

import ast

import pytest

from analysis import experiment_folder as folder
from tests.conftest import REPO, read_metadata

MAX_FUNCTION_LINES = 60

# Functions allowed to be longer, each with the reason it is one piece.
LONG_FUNCTIONS: dict[str, str] = {}

# Keys Syne Tune's Tuner writes into metadata.json itself.
SYNE_TUNE_KEYS = {"backend", "config_space", "entrypoint", "scheduler_kwargs", "scheduler_name",
                  "st_tuner_creation_timestamp", "st_tuner_start_timestamp"}


def long_functions(limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """`path:name` -> lines of every function (or method) over `limit` lines, decorators not
    counted, in the suite's code (tests aside)."""
    found = {}
    for layer in ("objectives", "analysis", "experiments"):
        for path in sorted((REPO / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        found[f"{path.relative_to(REPO)}:{node.name}"] = lines
    return found


def test_no_function_is_longer_than_a_screen():
    found = long_functions()
    unexplained = {name: lines for name, lines in found.items() if name not in LONG_FUNCTIONS}
    assert not unexplained, (f"functions over {MAX_FUNCTION_LINES} lines: split them by job, or name "
                             f"them in LONG_FUNCTIONS with the reason: {unexplained}")
    assert set(LONG_FUNCTIONS) <= set(found), "LONG_FUNCTIONS names functions that are short now"


def test_the_scan_finds_a_long_function():
    assert long_functions(limit=20), "the scan found no function over 20 lines: it reads nothing"


def named_keys() -> set[str]:
    return {value for name, value in vars(folder).items() if name.isupper() and isinstance(value, str)}


@pytest.mark.parametrize("method", ["asha", "sync_sh", "optuna_tpe_sha", "smac_hyperband", "dehb"])
def test_every_metadata_key_of_a_run_is_named_in_the_experiment_folder_module(tmp_path, method):
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    tags = {folder.COMPARISON: "shape", folder.METHOD: method, folder.TARGET: 0.9}  # as a comparison's runs
    experiment = run_plan(make_plan(RunRequest(objective="tests.toy_objectives:quadratic", method=method,
                                               workers=2, max_results=12, results_dir=tmp_path, tags=tags)))
    metadata = read_metadata(experiment)
    unnamed = set(metadata) - named_keys() - SYNE_TUNE_KEYS
    assert not unnamed, f"{method}: metadata keys without a name in experiment_folder: {unnamed}"
