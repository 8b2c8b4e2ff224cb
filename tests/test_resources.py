"""How a run is sized to the machine: CPUs (as the affinity mask allows), threads per trial,
default workers, and the bf16 decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments.tuning import resources
from experiments.tuning.plan import RunRequest, make_plan
from objectives.training import PRECISION_ENV, use_bf16
from objectives.usage import UsageError
from tests.conftest import REPO


def test_threads_split_the_cpus_evenly_among_workers():
    assert resources.threads_per_trial(n_workers=2, cpus=8, n_gpus=0, requested=None) == 4
    assert resources.threads_per_trial(n_workers=3, cpus=8, n_gpus=0, requested=None) == 2
    assert resources.threads_per_trial(n_workers=16, cpus=8, n_gpus=0, requested=None) == 1
    assert resources.threads_per_trial(n_workers=2, cpus=8, n_gpus=2, requested=None) == 1  # GPUs compute
    assert resources.threads_per_trial(n_workers=2, cpus=8, n_gpus=0, requested=3) == 3


def test_default_workers_one_per_gpu_or_enough_for_asynchrony():
    assert resources.default_workers(n_gpus=4, trials_per_gpu=1, cpus=64) == 4
    assert resources.default_workers(n_gpus=2, trials_per_gpu=4, cpus=64) == 8
    assert resources.default_workers(n_gpus=0, trials_per_gpu=1, cpus=1) == 2  # never 1 on CPUs
    assert resources.default_workers(n_gpus=0, trials_per_gpu=1, cpus=16) == 8


PLAN_UNDER_MASK = """
import json, os, sys
os.sched_setaffinity(0, {0})  # as taskset, a container or SLURM would restrict this process
from experiments.tuning.plan import RunRequest, make_plan
plan = make_plan(RunRequest(smoke=True, results_dir=__import__("pathlib").Path(sys.argv[1])))
print(json.dumps({"cpus": os.cpu_count(), "workers": plan.n_workers, "threads": plan.threads_per_trial}))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs to restrict to 1")
def test_the_affinity_mask_not_the_machine_sizes_the_trials(tmp_path):
    completed = subprocess.run([sys.executable, "-c", PLAN_UNDER_MASK, str(tmp_path)], cwd=REPO,
                               capture_output=True, text=True, check=True)
    sized = json.loads(completed.stdout.strip().splitlines()[-1])
    assert sized["cpus"] >= 2  # the machine has more...
    assert sized == {**sized, "workers": 2, "threads": 1}  # ...but this process may use one
    unmasked = make_plan(RunRequest(smoke=True, results_dir=tmp_path))
    assert unmasked.threads_per_trial == max(1, len(os.sched_getaffinity(0)) // unmasked.n_workers)


def cpu_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()}


def test_bf16_is_used_exactly_where_the_cpu_computes_it(monkeypatch):
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    native = "avx512_bf16" in cpu_flags()
    assert use_bf16(torch.device("cpu")) == native
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert use_bf16(torch.device("cpu")) is False
    monkeypatch.setenv(PRECISION_ENV, "bf16")
    assert use_bf16(torch.device("cpu")) is True


def test_a_bad_precision_is_refused_before_anything_starts(monkeypatch, tmp_path):
    monkeypatch.setenv(PRECISION_ENV, "fp16")
    with pytest.raises(UsageError, match="HPO_PRECISION=fp16: use fp32 or bf16"):
        make_plan(RunRequest(smoke=True, results_dir=tmp_path))
    assert not any(tmp_path.iterdir())
