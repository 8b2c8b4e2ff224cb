"""Trials on GPUs: one trial per GPU by default, K trials sharing each GPU with
--trials-per-gpu K. Runs only where CUDA is visible (the GPU machine's check script runs it);
elsewhere every test here is skipped with the reason."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from analysis import experiment_folder as folder
from tests.conftest import assert_loads_in_stock_syne_tune, read_metadata, run_launcher

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device visible: the GPU tests run on a GPU machine")


def most_at_once(segments) -> int:
    """The largest number of trial runs that overlapped in tuner time."""
    events = sorted([(s.start_s, 1) for s in segments] + [(s.end_s, -1) for s in segments if s.end_s is not None])
    running = peak = 0
    for _, change in events:  # an end sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


def gpu_run(results_dir, trials_per_gpu: int):
    return run_launcher("run_asha.py", results_dir, "--method", "asha", "--smoke",
                        "--trials-per-gpu", str(trials_per_gpu),
                        "--max-results", "32", "--max-epochs", "4", "--grace-period", "1",
                        "--seed", "0", timeout=240)


def test_one_trial_per_gpu_by_default(tmp_path):
    experiment = gpu_run(tmp_path, 1)
    metadata = read_metadata(experiment)
    n_gpus = torch.cuda.device_count()
    assert metadata["n_workers"] == n_gpus and metadata["trials_per_gpu"] == 1
    segments = folder.timeline_of(metadata)
    assert len(segments) >= 2 and most_at_once(segments) <= n_gpus
    if n_gpus > 1:  # runs that overlapped had distinct GPUs
        gpus = {int(t): g for t, g in metadata["trial_gpus"].items()}
        for a in segments:
            for b in segments:
                overlap = a.trial_id < b.trial_id and a.start_s < (b.end_s or 1e9) and b.start_s < (a.end_s or 1e9)
                if overlap:
                    assert gpus[a.trial_id] != gpus[b.trial_id], (a, b)
    # every report came from a trial computing on a GPU (the loop reports its CUDA memory)
    results = pd.read_csv(experiment / folder.RESULTS_FILE)
    assert results["gpu_memory_mb"].notna().all() and (results["gpu_memory_mb"] > 0).all()


def test_k_trials_share_each_gpu(tmp_path):
    k = 4
    experiment = gpu_run(tmp_path, k)
    metadata = read_metadata(experiment)
    n_gpus = torch.cuda.device_count()
    assert metadata["n_workers"] == n_gpus * k
    segments = folder.timeline_of(metadata)
    assert most_at_once(segments) > n_gpus  # more trials ran at once than there are GPUs
    if n_gpus > 1:
        per_gpu = {}
        for trial, gpus in metadata["trial_gpus"].items():
            per_gpu.setdefault(tuple(gpus), []).append(int(trial))
        assert len(per_gpu) == n_gpus and all(len(gpus) == 1 for gpus in per_gpu)
    results = pd.read_csv(experiment / folder.RESULTS_FILE)
    assert results["gpu_memory_mb"].notna().all()


def test_gpu_experiments_load_in_stock_syne_tune(tmp_path):
    experiment = gpu_run(tmp_path, 2)
    assert_loads_in_stock_syne_tune(experiment, {"learning_rate", "batch_size"}, tmp_path)
