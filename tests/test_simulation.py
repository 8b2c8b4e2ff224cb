"""Recorded learning curves and their simulated replay."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from objectives.tables import TABLES_DIR, recorded_configurations
from tests.conftest import assert_loads_in_stock_syne_tune, built_once, read_metadata, run_here, run_script

@pytest.mark.parametrize("objective,configs,batch_sizes", [
    ("fashion_mnist_lenet", 128, (64, 224)), ("cifar10_cnn", 64, (2, 16))])
def test_committed_tables_hold_real_full_curves(objective, configs, batch_sizes):
    from objectives import load_objective
    from objectives.tables import sample_configs

    table = pd.read_csv(TABLES_DIR / f"{objective}.csv")
    metadata = json.loads((TABLES_DIR / f"{objective}.json").read_text())
    assert not metadata["smoke"] and metadata["max_epochs"] == 10
    assert table["config_id"].nunique() >= configs
    assert table.groupby("config_id")["epoch"].apply(lambda e: list(e) == list(range(1, 11))).all()
    assert table["validation_error"].between(0, 1).all()
    assert (table["epoch_time_s"] > 0).all()
    recorded = recorded_configurations(objective)
    # the configurations are the recorder's sample of the objective's search space
    sample = sample_configs(load_objective(objective).search_space, len(recorded))
    assert all(recorded[i] == sample[i] for i in range(len(recorded)))
    sizes = [c["batch_size"] for c in recorded.values()]
    assert min(sizes) <= batch_sizes[0] and max(sizes) >= batch_sizes[1]  # the whole range
    # per-epoch times differ with the batch size, as in real runs
    assert table["epoch_time_s"].max() > 1.3 * table["epoch_time_s"].min()


def test_recording_appends_and_skips_what_is_done(tmp_path):
    table = tmp_path / "curves.csv"
    flags = ["experiments/record_curves.py", "--smoke", "--max-epochs", "2", "--workers", "2",
             "--table", str(table)]
    run_here(flags + ["--configs", "3"])
    first = pd.read_csv(table)
    assert sorted(first["config_id"].unique()) == [0, 1, 2] and len(first) == 6
    printed = run_here(flags + ["--configs", "4"])
    assert "3 of 4 configurations recorded; training 1" in printed
    second = pd.read_csv(table)
    assert len(second) == 8
    pd.testing.assert_frame_equal(second[second["config_id"] < 3].reset_index(drop=True),
                                  first.reset_index(drop=True))
    metadata = json.loads(table.with_suffix(".json").read_text())
    assert set(metadata["configs"]) == {"0", "1", "2", "3"}
    assert metadata["versions"]["torch"] and metadata["machine"]["cpus"] >= 1


@pytest.fixture(scope="session")
def simulated_comparison(tmp_path_factory):
    """30 paired seeds of three methods, simulated: built once for every test process."""
    return built_once(tmp_path_factory, "simulated", lambda results_dir: run_script(
        ["experiments/compare.py", "--backend", "simulated", "--seeds", "30",
         "--methods", "asha,sync_sh,sync_sh_waiting", "--workers", "4", "--search-space", "recorded",
         "--comparison-name", "sim30", "--results-dir", str(results_dir)]))


def test_thirty_seed_simulated_comparison(simulated_comparison):
    comparison = json.loads(run_here(["-m", "analysis.compare", "latest", "--json", "--results-dir",
                                      str(simulated_comparison)]))
    assert comparison["simulated"] is True
    for entry in comparison["methods"].values():
        assert [run["seed"] for run in entry["runs"]] == list(range(30))
    busy = {m: comparison["methods"][m]["summary"]["worker_utilization"]["value"] for m in comparison["methods"]}
    # textbook SH leaves workers idle while its rungs complete; SH as Syne Tune shipped it and
    # ASHA keep them busy (the simulated start-up of each trial is the only idle time)
    assert busy["sync_sh_waiting"] < 0.8 and busy["sync_sh"] > 0.9 and busy["asha"] > 0.9, busy
    waiting_vs_busy = comparison["methods"]["sync_sh_waiting"]["differences"]["worker_utilization"]
    assert waiting_vs_busy["resolved"] and waiting_vs_busy["value"] < 0


def test_simulated_experiments_load_and_plot_as_real_ones(simulated_comparison, tmp_path):
    experiment = next(p for p in simulated_comparison.iterdir() if (p / "metadata.json").exists())
    assert read_metadata(experiment)["simulated"] is True
    summary = json.loads(run_here(["-m", "analysis.summarize", str(experiment), "--json"]))
    assert summary["simulated"] and {"learning_rate", "batch_size"} <= set(summary["best_config"])
    # stock Syne Tune sees the searched hyperparameter: here the recorded configuration's id
    assert_loads_in_stock_syne_tune(experiment, {"config_id"}, tmp_path)
    run_here(["-m", "analysis.plot_learning_curves", str(experiment), "-o", str(tmp_path / "c.png")])
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_replay_fidelity_of_a_real_comparison(real_comparison_dir):
    report = json.loads(run_here(["experiments/replay_fidelity.py", "real", "--json",
                                  "--results-dir", str(real_comparison_dir)]))
    curves = report["curves"]
    assert curves["trials"] >= 4 and curves["epochs"] >= curves["trials"]
    # the same configurations and seeds retrained on real data: errors as recorded, epoch by
    # epoch, within a few tenths of a percent (synthetic data, say, would be 0.3 to 0.7 off)
    assert curves["median_abs_error_difference"] < 0.02, curves
    # epoch times are compared too, but they move with the machine's load: reported (a number
    # for every pair of epochs), not judged
    assert math.isfinite(curves["median_relative_epoch_time_error"]), curves
    for entry in report["ranking"].values():
        assert {e["method"] for e in entry["real"]} == {e["method"] for e in entry["simulated"]} == {"asha", "sync_sh"}
    # the surrogate of the full space, on each recorded configuration left out of its fit
    held_out = report["surrogate_held_out"]
    assert held_out["configurations"] == 128 and held_out["final_error_spearman"] > 0.5, held_out


def test_scaling_study_stops_runs_at_the_target_and_plots_speed_up(tmp_path):
    completed = run_script(["experiments/scaling.py", "--workers", "1,4", "--seeds", "3", "--jobs", "2",
                            "--methods", "asha,sync_sh", "--results-dir", str(tmp_path / "runs"),
                            "--output-dir", str(tmp_path)])
    assert "speed-up over 1 worker(s)" in completed.stdout
    rows = pd.read_csv(tmp_path / "scaling.csv")
    assert set(rows["workers"]) == {1, 4} and set(rows["method"]) == {"asha", "sync_sh"}
    assert (rows[rows["workers"] == 1]["speedup"] == 1).all()
    assert (rows["ideal_speedup"] == rows["workers"]).all()
    # every run ended at its first result below the target, or at the budget without one
    for experiment in (p for p in (tmp_path / "runs").iterdir() if (p / "metadata.json").exists()):
        results = pd.read_csv(experiment / "results.csv.zip").sort_values("st_tuner_time")
        below = results[results["validation_error"] < 0.1455]
        if not below.empty:
            # results reported after the first hit come only from trials already running
            assert results["st_tuner_time"].max() - below["st_tuner_time"].iloc[0] < 30
        else:
            assert results["st_tuner_time"].max() > 3000
        # the worker processes hash strings alike, so that a SMAC run repeats from its seed
        assert read_metadata(experiment)["machine"]["python_hash_seed"] == "0"
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


def test_simulation_without_table_is_a_clear_error(tmp_path):
    completed = run_script(["experiments/run_asha.py", "--backend", "simulated", "--objective",
                            "tests.toy_objectives:quadratic", "--results-dir", str(tmp_path)], check=False)
    assert completed.returncode == 2 and "record_curves.py" in completed.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("method", ["asha", "sync_sh_waiting"])
def test_skipping_idle_polls_changes_no_result(tmp_path, method):
    """The simulated tuner jumps over polls that find nothing; every result, decision and
    simulated time must be those of polling every 0.2 s."""
    from experiments.tuning.build import build_tuner
    from experiments.tuning.callbacks import SimulatedResults
    from experiments.tuning.plan import RunRequest, make_plan

    frames = []
    for skip in (True, False):
        plan = make_plan(RunRequest(backend="simulated", method=method, workers=4, seed=5,
                                    budget_s=400, results_dir=tmp_path / str(skip)))
        tuner = build_tuner(plan)
        callback = next(c for c in tuner.callbacks if isinstance(c, SimulatedResults))
        callback.skip_idle_polls = skip
        tuner.run()
        frames.append(pd.read_csv(tuner.tuner_path / "results.csv.zip"))
    assert len(frames[0]) > 50
    pd.testing.assert_frame_equal(frames[0], frames[1])
