"""The ASHA launcher end to end: real Tuner, real PythonBackend subprocess trials."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from analysis.metrics import stopped_early
from objectives.data import SMOKE
from tests.conftest import assert_loads_in_stock_syne_tune, read_metadata, run_script


def results_of(experiment) -> pd.DataFrame:
    return pd.read_csv(experiment / "results.csv.zip")


def test_asha_stops_trials_only_at_rungs(smoke_experiment):
    results = results_of(smoke_experiment)
    stopped = stopped_early(results, "epoch", 8)
    assert stopped, "ASHA stopped no trial early"
    last_epoch = results.groupby("trial_id")["epoch"].max()
    # grace period 1, reduction factor 2, max 8 epochs: rungs at epochs 1, 2 and 4
    assert {int(last_epoch[t]) for t in stopped} <= {1, 2, 4}
    assert results["trial_id"].nunique() >= 5


def assert_counts_of_wrong_images(errors, n_images: int) -> None:
    """Errors weighted by sample are whole numbers of wrong images out of the split's n: a mean of
    per-batch accuracies (as d2l measures), or a split of another size, gives other values."""
    wrong = np.asarray(errors, dtype=float) * n_images
    assert len(wrong) > 0 and np.allclose(wrong, wrong.round(), atol=1e-6), (n_images, errors[:5])


def test_validation_and_test_errors_count_wrong_images_of_their_splits(smoke_experiment):
    from objectives.fashion_mnist_lenet import CLASSIFIER

    splits = CLASSIFIER.load_splits(SMOKE)  # what the trials trained and validated on
    assert_counts_of_wrong_images(results_of(smoke_experiment)["validation_error"], len(splits.val_y))
    assert_counts_of_wrong_images([read_metadata(smoke_experiment)["test_error"]], len(splits.test_y))


def test_metadata_records_the_run(smoke_experiment):
    metadata = read_metadata(smoke_experiment)
    assert metadata["objective"] == "fashion_mnist_lenet"
    assert metadata["scheduler"] == "asha"
    assert metadata["seed"] == 1
    assert metadata["flags"]["grace_period"] == 1
    assert metadata["versions"]["syne_tune"].startswith("0.16")
    assert metadata["threads_per_trial"] >= 1
    assert metadata["max_trials"] == 8 and metadata["max_wallclock_time"] is None
    segments = metadata["trial_timeline"]
    assert {s["worker"] for s in segments} <= {0, 1}
    assert all(s["end_s"] >= s["start_s"] for s in segments)


def test_every_launcher_writes_what_stock_syne_tune_reads(smoke_experiment, comparison_dir, tmp_path):
    """run_asha.py (warm backend), compare.py's ASHA and synchronous SH (the Ray backend,
    run_ray_tune.py and simulated runs: in their own test files)."""
    assert_loads_in_stock_syne_tune(smoke_experiment, {"learning_rate", "batch_size"}, tmp_path)
    for experiment in (p for p in comparison_dir.iterdir() if (p / "metadata.json").exists()):
        assert_loads_in_stock_syne_tune(experiment, {"learning_rate", "batch_size"}, tmp_path)


def test_short_run_on_real_fashion_mnist(real_comparison_dir):
    experiment = next(p for p in real_comparison_dir.iterdir() if read_metadata(p)["method"] == "asha")
    results = results_of(experiment)
    assert len(results) >= 4  # the run ended at its 4 results
    assert results["trial_id"].nunique() >= 2  # both workers trained
    # FashionMNIST's held-out 10,000 validation and 10,000 test images
    assert_counts_of_wrong_images(results["validation_error"], 10_000)
    assert results["validation_error"].min() < 0.9  # better than chance after an epoch or two
    test_error = read_metadata(experiment)["test_error"]
    assert_counts_of_wrong_images([test_error], 10_000)
    assert test_error < 0.9
    assert not read_metadata(experiment)["smoke"]


BAD_INPUT = [
    (["--workers", "0"], "--workers"),
    (["--grace-period", "0"], "--grace-period"),
    (["--grace-period", "11"], "--grace-period"),
    (["--reduction-factor", "1"], "--reduction-factor"),
    (["--max-wallclock-time", "0"], "--max-wallclock-time"),
    (["--max-results", "0"], "--max-results"),
    (["--max-trials", "-1"], "--max-trials"),
    (["--objective", "mnist_mlp"], "unknown objective"),
    (["--backend", "sagemaker"], "unknown backend"),
    (["--brackets", "0"], "--brackets"),
    (["--experiment-name", "my run"], "--experiment-name"),
]


@pytest.mark.parametrize("flags,named", BAD_INPUT, ids=[f[0][0] + f[0][1] for f in BAD_INPUT])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, flags, named):
    from experiments.tuning.launch import launch

    results_dir = tmp_path / "results"
    with pytest.raises(SystemExit) as info:
        launch(["asha"], "test", ["--smoke", "--results-dir", str(results_dir), *flags])
    assert info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and named in message and "\n" not in message
    assert not results_dir.exists()


RAY_BAD_INPUT = [
    (["--backend", "ray", "--ray-address", "127.0.0.1:9"], "nothing answers there"),
    (["--backend", "ray", "--ray-address", "head-node"], "expected HOST:PORT"),
    (["--checkpoint-dir", "shared"], "applies to the Ray backend only"),
    (["--backend", "ray", "--cpus-per-trial", "0"], "--cpus-per-trial 0: must be at least 1"),
]


@pytest.mark.parametrize("flags,named", RAY_BAD_INPUT, ids=["unreachable", "no-port", "checkpoint-dir", "cpus"])
def test_bad_ray_flags_are_refused_before_anything_starts(tmp_path, capsys, flags, named):
    pytest.importorskip("ray", reason="the Ray flags need the extra: pip install -e '.[ray]'")
    test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, flags, named)


def test_unwritable_results_dir_and_missing_data_from_the_shell(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    completed = run_script(["experiments/run_asha.py", "--smoke", "--results-dir",
                            str(blocker / "results")], check=False)
    assert completed.returncode == 2 and "cannot write there" in completed.stderr

    (tmp_path / "empty").mkdir()
    completed = run_script(["experiments/run_asha.py", "--data-dir", str(tmp_path / "empty"),
                            "--results-dir", str(tmp_path / "results")], check=False)
    assert completed.returncode == 2
    assert "does not hold FashionMNIST" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "results").exists()


def test_a_wallclock_budget_ends_the_run(tmp_path):
    """The one test of the wall-clock limit itself (every other test bounds its runs by counts):
    a run of quick toy trials, which would go on for ever, ends at its budget by itself."""
    import time

    from tests.conftest import run_launcher

    started = time.monotonic()
    experiment = run_launcher("run_asha.py", tmp_path, "--method", "asha",
                              "--objective", "tests.toy_objectives:quadratic",
                              "--workers", "2", "--max-wallclock-time", "3", timeout=120)
    metadata = read_metadata(experiment)
    assert metadata["max_wallclock_time"] == 3 and metadata["max_results"] is None
    assert metadata["finished"] and not metadata.get("interrupted")
    assert time.monotonic() - started >= 3  # not before its budget (the timeout bounds after)
    assert results_of(experiment)["trial_id"].nunique() >= 4


@pytest.mark.parametrize("backend", ["warm", "python"])
def test_a_run_leaves_the_environment_of_its_process_as_it_was(tmp_path, backend):
    """Settings reach the trials as arguments and through each trial's own environment: the
    process that tunes (a notebook, a comparison of many runs) keeps its environment."""
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    before = dict(os.environ)
    experiment = run_plan(make_plan(RunRequest(objective="tests.toy_objectives:quadratic", backend=backend,
                                               workers=2, max_results=8, results_dir=tmp_path)))
    assert dict(os.environ) == before
    assert experiment.parent == tmp_path and len(results_of(experiment)) >= 8
