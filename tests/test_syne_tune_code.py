"""Syne Tune code tuned as it is: a training script in the form of Syne Tune's examples and a tune
function in the form of its ASHA tutorial (tests/syne_tune_code/), through the launchers, then
read by the suite's analysis and by stock Syne Tune; and each bad input, named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.metrics import stopped_early
from analysis.report import write_report
from analysis.summarize import summarize_experiment
from experiments.schedulers import ASYNC_METHODS, SYNC_METHODS
from experiments.tuning.launch import launch
from tests.conftest import REPO, assert_loads_in_stock_syne_tune, read_metadata

CODE = REPO / "tests" / "syne_tune_code"
SCRIPT = CODE / "train_script.py"
SPACES = CODE / "spaces.py"
FUNCTIONS = CODE / "tune_function.py"
METRIC_FLAGS = ["--metric", "mean_loss", "--mode", "min", "--resource-attr", "epoch"]


def script_flags(space: str = "config_space", script: Path = SCRIPT) -> list[str]:
    return ["--entry-point", str(script), "--config-space", f"{SPACES}:{space}", *METRIC_FLAGS,
            "--max-resource-attr", "steps"]


def function_flags(function: str = "tutorial_objective", space: str = "tutorial") -> list[str]:
    return ["--objective", f"{FUNCTIONS}:{function}", "--config-space", f"{SPACES}:{space}", *METRIC_FLAGS,
            "--max-resource-attr", "max_epochs"]


def tune(methods, method: str, tmp_path: Path, code_flags: list[str], *limits: str) -> Path:
    return launch(methods, "test", ["--method", method, *code_flags, "--workers", "2", "--grace-period", "1",
                                    "--reduction-factor", "2", "--results-dir", str(tmp_path), *limits])


def results_of(experiment: Path) -> pd.DataFrame:
    return pd.read_csv(experiment / "results.csv.zip")


def assert_read_by_the_suite_and_stock_syne_tune(experiment: Path, tmp_path: Path) -> None:
    summary = summarize_experiment(experiment)
    assert summary["best_mean_loss"] == results_of(experiment)["mean_loss"].min()
    page = write_report(str(experiment), tmp_path / "report.html").read_text()
    assert "mean_loss" in page
    assert_loads_in_stock_syne_tune(experiment, {"width", "height"}, tmp_path, metric="mean_loss")


def assert_no_epoch_trained_twice(experiment: Path, results: pd.DataFrame) -> None:
    twice = results[results.duplicated(["trial_id", "epoch"], keep=False)]
    assert twice.empty, f"epochs reported twice:\n{twice}"
    for trial_id, trial in results.groupby("trial_id"):
        assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
        trained = (experiment / str(trial_id) / "checkpoints" / "trained.txt").read_text().split()
        assert trained == [str(e) for e in range(1, len(trained) + 1)], (trial_id, trained)


def test_a_syne_tune_script_is_tuned_with_asha_as_it_is(tmp_path):
    experiment = tune(ASYNC_METHODS, "asha", tmp_path, script_flags(), "--max-trials", "8")
    results = results_of(experiment)
    assert results["trial_id"].nunique() >= 8
    # the script's own report, relayed: its metric and resource, the hyperparameters only in the config
    assert {"mean_loss", "epoch"} <= set(results.columns)
    assert {c for c in results.columns if c.startswith("config_")} == {"config_width", "config_height"}
    stopped = stopped_early(results, "epoch", 8)  # by ASHA's decision (not those running at the end)
    last = results.groupby("trial_id")["epoch"].max()
    assert stopped and (last == 8).any()  # ASHA stopped some early, trained some fully
    assert {int(last[t]) for t in stopped} <= {1, 2, 4}  # and only at its rungs
    metadata = read_metadata(experiment)
    assert metadata["metric"] == "mean_loss" and metadata["objective"] == "train_script"
    assert_no_epoch_trained_twice(experiment, results)
    assert_read_by_the_suite_and_stock_syne_tune(experiment, tmp_path)


def test_synchronous_sh_pauses_and_resumes_a_script_through_its_max_resource_flag(tmp_path):
    experiment = tune(SYNC_METHODS, "sync_sh", tmp_path, script_flags(), "--max-trials", "8")
    results = results_of(experiment)
    resumed = [t for t, trial in results.groupby("trial_id") if trial["epoch"].max() > 1]
    assert resumed, "no trial went past its first rung"
    # a paused trial resumes from its checkpoint: the script trains each epoch once
    assert_no_epoch_trained_twice(experiment, results)
    assert_read_by_the_suite_and_stock_syne_tune(experiment, tmp_path)


def test_a_tune_function_in_the_tutorials_form_is_tuned_with_asha(tmp_path):
    experiment = tune(ASYNC_METHODS, "asha", tmp_path, function_flags(), "--max-trials", "8")
    results = results_of(experiment)
    assert results["trial_id"].nunique() >= 8
    last = results.groupby("trial_id")["epoch"].max()
    assert {int(last[t]) for t in stopped_early(results, "epoch", 8)} <= {1, 2, 4}
    assert read_metadata(experiment)["objective"] == "tutorial_objective"
    assert_read_by_the_suite_and_stock_syne_tune(experiment, tmp_path)


def test_a_tune_function_asking_for_its_checkpoint_folder_gets_it(tmp_path):
    experiment = tune(SYNC_METHODS, "sync_sh", tmp_path, function_flags("with_checkpoints"), "--max-trials", "8")
    results = results_of(experiment)
    assert (results.groupby("trial_id")["epoch"].max() > 1).any()
    twice = results[results.duplicated(["trial_id", "epoch"], keep=False)]
    assert twice.empty


BAD_CODE = [
    (script_flags(script=CODE / "no_such_script.py"), "--entry-point"),
    (["--entry-point", str(SCRIPT), "--config-space", f"{CODE / 'no_such_space.py'}:config_space",
      *METRIC_FLAGS, "--max-resource-attr", "steps"], "--config-space"),
    (script_flags("no_hyperparameter"), "no hyperparameter"),
    (["--entry-point", str(SCRIPT), "--config-space", f"{SPACES}:config_space", *METRIC_FLAGS], "--max-resource-attr"),
    (["--entry-point", str(SCRIPT), "--config-space", f"{SPACES}:config_space", *METRIC_FLAGS,
      "--max-resource-attr", "epochs"], "--max-resource-attr epochs"),
    (["--entry-point", str(SCRIPT), *METRIC_FLAGS, "--max-resource-attr", "steps"], "--config-space"),
    (["--metric", "mean_loss"], "--metric"),
    (["--objective", f"{FUNCTIONS}:tutorial_objective"], "--config-space"),
    (function_flags("wrong_arguments"), "depth"),
]


def test_a_study_of_code_not_yet_recorded_says_how_to_record_it(tmp_path, monkeypatch, capsys):
    from experiments.study import main as study

    monkeypatch.setenv("HPO_TABLES_DIR", str(tmp_path / "tables"))
    with pytest.raises(SystemExit) as failed:
        study([*script_flags(), "--results-dir", str(tmp_path / "study"), "--output-dir", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert failed.value.code == 2 and "no recorded learning curves for train_script" in err, err
    assert "record_curves.py and the objective flags given here" in err and "--objective train_script" not in err
    assert not (tmp_path / "study").exists() and not (tmp_path / "report").exists()


@pytest.mark.parametrize("flags, named", BAD_CODE)
def test_bad_code_input_is_one_line_and_exit_2_before_anything_starts(tmp_path, capsys, flags, named):
    with pytest.raises(SystemExit) as failed:
        launch(ASYNC_METHODS, "test", [*flags, "--results-dir", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert failed.value.code == 2 and named in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_a_script_that_exits_non_zero_fails_its_trial_with_its_last_stderr_line(tmp_path):
    # grace period 2: every trial reaches the epoch where the script exits 1
    experiment = tune(ASYNC_METHODS, "asha", tmp_path, script_flags("failing"), "--max-trials", "4",
                      "--max-failures", "100", "--grace-period", "2")
    summary = summarize_experiment(experiment)
    assert summary["trials_failed"] >= 4 and summary["partial"] is False
    messages = list(summary["failures"].values())  # by trial: the last line of its stderr
    assert len(messages) >= 4
    assert all(m.endswith("train_script.py exited 1: loss diverged at epoch 2") for m in messages), messages


def test_a_script_ignoring_its_max_resource_flag_under_sync_sh_is_named(tmp_path):
    experiment = tune(SYNC_METHODS, "sync_sh", tmp_path, script_flags("ignoring_steps"), "--max-trials", "4",
                      "--max-failures", "100")
    summary = summarize_experiment(experiment)
    assert summary["trials_failed"] >= 1
    assert any("reported epoch 2 after being passed --steps 1" in m for m in summary["failures"].values())


def test_a_metric_the_script_never_reports_stops_the_run_at_the_first_result(tmp_path, capsys):
    flags = ["--entry-point", str(SCRIPT), "--config-space", f"{SPACES}:config_space", "--metric", "mean_los",
             "--max-resource-attr", "steps"]
    with pytest.raises(SystemExit) as stopped:
        tune(ASYNC_METHODS, "asha", tmp_path, flags, "--max-trials", "40")
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "train_script.py reported epoch, mean_loss, not mean_los" in err and "--metric" in err, err
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    metadata = read_metadata(experiment)
    assert metadata["aborted"] == "metric not reported"
    assert summarize_experiment(experiment)["trials_failed"] <= 2  # not one failure after another up to 20


def test_a_script_is_recorded_and_replayed_in_simulation(tmp_path, monkeypatch, capsys):
    """record_curves.py records the script's curves into the user's tables ($HPO_TABLES_DIR), and
    --backend simulated replays them (every simulated report is a recorded value at its level), in
    a launcher, compare.py and the study."""
    from experiments.record_curves import main as record_curves

    monkeypatch.setenv("HPO_TABLES_DIR", str(tmp_path / "tables"))
    record_curves([*script_flags(), "--configs", "6", "--workers", "2"])
    table = pd.read_csv(tmp_path / "tables" / "train_script.csv")
    assert sorted(table["config_id"].unique()) == list(range(6)) and len(table) == 6 * 8
    assert {"epoch", "mean_loss", "epoch_time_s", "elapsed_s"} <= set(table.columns)
    assert (table.groupby("config_id")["elapsed_s"].diff().dropna() > 0).all()  # measured, level by level

    experiment = tune(ASYNC_METHODS, "asha", tmp_path / "runs", script_flags(), "--backend", "simulated",
                      "--max-trials", "30")
    results = results_of(experiment)
    assert read_metadata(experiment)["simulated"] and results["trial_id"].nunique() >= 30
    recorded = {(int(e), round(v, 6)) for e, v in zip(table["epoch"], table["mean_loss"])}
    replayed = {(int(e), round(v, 6)) for e, v in zip(results["epoch"], results["mean_loss"])}
    assert replayed <= recorded, replayed - recorded

    # compare.py and analysis.compare take it as any objective
    import json

    from analysis.compare import main as analyse_comparison
    from experiments.compare import main as compare

    compare([*script_flags(), "--backend", "simulated", "--methods", "asha,sync_sh", "--seeds", "1",
             "--max-results", "30", "--workers", "2", "--results-dir", str(tmp_path / "cmp")])
    capsys.readouterr()
    analyse_comparison(["latest", "--json", "--results-dir", str(tmp_path / "cmp")])
    compared = json.loads(capsys.readouterr().out)
    assert compared["metric"] == "mean_loss" and sorted(compared["methods"]) == ["asha", "sync_sh"], compared

    # the study runs on it as on a built-in benchmark: a comparison per worker count, its report
    from experiments.study import main as study

    # the study's only budget is simulated seconds (the simulator's clock, not the machine's)
    study([*script_flags(), "--workers", "2", "--seeds", "2", "--methods", "asha,sync_sh", "--sweep-methods", "none",
           "--max-wallclock-time", "20", "--jobs", "1", "--results-dir", str(tmp_path / "study"),
           "--output-dir", str(tmp_path / "report")])
    runs = sorted(p.name for p in (tmp_path / "study").iterdir())
    assert runs == [f"study-train_script-w2-{m}-s{s}" for m in ("asha", "sync_sh") for s in (0, 1)], runs
    report = (tmp_path / "report" / "study.md").read_text()
    assert "### train_script: target mean_loss" in report and "sync_sh" in report
    assert (tmp_path / "report" / "study-train_script.png").stat().st_size > 10_000


def test_an_interrupted_script_run_resumes_without_training_an_epoch_twice(tmp_path):
    import signal

    from tests.test_reliability import start_and_interrupt

    process, (_, err), _ = start_and_interrupt(tmp_path, "run_sync_sh.py", 24, signal.SIGINT, after_trial=2,
                                               objective_flags=script_flags())
    assert process.returncode == 130, err[-3000:]
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    results_before = results_of(experiment)
    before = results_before.groupby("trial_id")["epoch"].max()
    launch(SYNC_METHODS, "test", ["--resume", experiment.name, "--results-dir", str(tmp_path)])
    results = results_of(experiment)
    assert len(results_before) < 24 <= len(results)
    assert read_metadata(experiment)["resumed"] == 1
    after = results.groupby("trial_id")["epoch"].max()
    assert (after[before.index] > before).any(), "no trial paused before the interruption went on after it"
    assert_no_epoch_trained_twice(experiment, results)


def test_recording_names_a_failing_configuration_and_fails_when_none_is_recorded(tmp_path, monkeypatch, capsys):
    from experiments.record_curves import main as record_curves

    monkeypatch.setenv("HPO_TABLES_DIR", str(tmp_path / "tables"))
    with pytest.raises(SystemExit) as failed:
        record_curves([*script_flags("failing"), "--configs", "2", "--workers", "2"])
    captured = capsys.readouterr()
    assert failed.value.code == 2
    assert captured.out.count("train_script.py exited 1: loss diverged at epoch 2: not recorded") == 2, captured.out
    assert "no configuration was recorded: CodeFailed: train_script.py exited 1" in captured.err, captured.err
