"""Failing trials, load, interruption, and damaged experiment folders."""

from __future__ import annotations

import html
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from syne_tune import StoppingCriterion
from syne_tune.config_space import choice, uniform

from analysis.experiment_folder import timeline_of
from analysis.summarize import summarize_experiment
from experiments.compat.syne_tune import NO_RESULT
from experiments.schedulers import ASYNC_METHODS, METHODS, SYNC_METHODS, SchedulerArgs
from experiments.tuning.build import make_tuner
from experiments.tuning.launch import launch
from tests.conftest import REPO, read_metadata, run_launcher, run_script
from tests.fault_objective import toy_trial


def toy_space(max_epochs=3, crash=(0,), epoch_s=0.0):
    return {
        "x": uniform(0.0, 0.5),
        "crash_at": choice(list(crash)),
        "max_epochs": max_epochs, "hang_at": 0, "nan_at": 0, "slow_start": 0.0,
        "epoch_s": epoch_s, "st_checkpoint_dir": "unused",
    }


# Toy trials take milliseconds: the tuner may poll their files faster than real ones need.
TOY_POLL_S = 0.01


def run_toy(tmp_path, scheduler_name, backend, space, stop, max_failures=1000, max_t=3):
    """Tune the toy objective on 2 workers; `backend` is "warm", "python", or a backend
    built by the caller (e.g. on a Ray cluster). Returns the experiment folder."""
    from syne_tune.backend import PythonBackend

    from experiments.backends.warm import WarmBackend

    method = METHODS[scheduler_name]
    scheduler = method.build(SchedulerArgs(
        config_space=space, metric="validation_error", do_minimize=True, resource_attr="epoch",
        max_t=max_t, grace_period=1, reduction_factor=2, seed=0, points_to_evaluate=[],
        max_resource_attr="max_epochs", brackets=method.default_brackets(1, 2, max_t)))
    if isinstance(backend, str):
        backend_class = WarmBackend if backend == "warm" else PythonBackend
        backend = backend_class(toy_trial, space, rotate_gpus=False)
    tuner = make_tuner(
        backend, scheduler, scheduler_name,
        n_workers=2, stop_criterion=stop, max_failures=max_failures,
        name=f"toy-{scheduler_name.replace('_', '-')}", metadata={"n_workers": 2, "max_epochs": max_t},
        max_t=max_t, results_dir=tmp_path, sleep_s=TOY_POLL_S,
    )
    tuner.run()
    return tuner.tuner_path


def ended_trials(path) -> list[int]:
    """Trials whose (last) run ended by itself, by the scheduler, or by failing."""
    return [s.trial_id for s in timeline_of(read_metadata(path)) if s.status in ("Completed", "Stopped", "Failed")]


@pytest.mark.parametrize("backend", ["warm", "python"])
def test_crashing_third_of_trials_is_recorded_and_the_run_goes_on_to_its_limit(tmp_path, backend):
    path = run_toy(tmp_path, "asha", backend, toy_space(max_epochs=4, crash=(0, 0, 2), epoch_s=0.05),
                   StoppingCriterion(max_num_trials_finished=11), max_t=4)
    assert len(ended_trials(path)) >= 12  # not ended by the failures
    summary = summarize_experiment(path)
    assert summary["trials_failed"] >= 2
    assert all("injected crash at epoch 2" in error for error in summary["failures"].values())
    results = pd.read_csv(path / "results.csv.zip")
    crashing = results[results["config_crash_at"] == 2]
    assert (crashing["epoch"] < 2).all()  # they reported epoch 1, then crashed
    assert results[results["config_crash_at"] == 0]["trial_id"].nunique() >= 2


LOAD_RUN = """
import json, resource, sys
from pathlib import Path
from syne_tune import StoppingCriterion
from tests.test_reliability import run_toy, toy_space
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = run_toy(Path(sys.argv[1]), sys.argv[2], "warm", toy_space(),
               StoppingCriterion(max_num_trials_started=299))
growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"path": str(path), "growth_mb": growth_mb}))
"""


@pytest.mark.parametrize("scheduler", ["asha", "sync_sh"])
def test_300_trials_lose_and_duplicate_nothing(tmp_path, scheduler):
    # in a fresh process: its peak memory is the tuner's own, not an earlier test's
    completed = subprocess.run([sys.executable, "-c", LOAD_RUN, str(tmp_path), scheduler], cwd=REPO,
                               capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    path = Path(outcome["path"])
    results = pd.read_csv(path / "results.csv.zip")
    trial_dirs = [p for p in path.iterdir() if p.name.isdigit()]
    # the tuner fills both free workers before it checks the stop: 300 or 301 trials
    assert len(trial_dirs) in (300, 301)
    last = len(trial_dirs) - 2  # the last two may be killed at the stop, maybe mid-print
    assert results["trial_id"].nunique() >= last
    for trial_dir in trial_dirs:
        printed = (trial_dir / "std.out").read_text().count("[tune-metric]")
        rows = results[results["trial_id"] == int(trial_dir.name)]
        # every trial that reported is in the file, each epoch once and in order; a trial
        # may have printed more than is kept (reports after a stop or pause are dropped)
        if int(trial_dir.name) < last:
            assert (len(rows) >= 1) == (printed >= 1)
        assert len(rows) <= printed
        assert rows["epoch"].tolist() == list(range(1, len(rows) + 1))
    assert outcome["growth_mb"] < 300, f"tuner memory grew by {outcome['growth_mb']:.0f} MB over 300 trials"


@pytest.mark.parametrize("scheduler", ["sync_sh", "sync_sh_waiting"])
def test_sync_sh_completes_a_rung_holding_a_crashed_trial(tmp_path, scheduler):
    path = run_toy(tmp_path, scheduler, "warm", toy_space(crash=(0, 1), epoch_s=0.02),
                   StoppingCriterion(max_num_evaluations=29))
    results = pd.read_csv(path / "results.csv.zip")
    assert results["epoch"].max() >= 2  # promotions happened although rung members crashed
    crashed = set(results["trial_id"]) ^ set(range(results["trial_id"].max() + 1))
    assert summarize_experiment(path)["trials_failed"] >= 1 and crashed


def launcher_tree(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def start_and_interrupt(tmp_path, script, max_results, sig, after_trial=1, objective_flags=("--smoke",)):
    """Start a launcher on `objective_flags` (synthetic FashionMNIST by default), wait until trial
    `after_trial` has reported, send `sig`.

    Returns (process, its output, the pids of its descendants before the signal)."""
    process = subprocess.Popen(
        [sys.executable, f"experiments/{script}", "--method", LAUNCHER_METHODS[script][0], *objective_flags,
         "--workers", "2", "--max-results", str(max_results), "--grace-period", "1", "--results-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120  # against a hang only
    while True:
        time.sleep(0.05)
        trial_dirs = list(tmp_path.glob(f"*/{after_trial}/std.out"))
        if trial_dirs and "[tune-metric]" in trial_dirs[0].read_text():
            break
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"trial {after_trial} never reported (hung?)\n{out[-2000:]}\n{err[-2000:]}")
    # let the tuner poll this report too (it polls every 0.2 s), so that the run has two
    # trials' results to keep
    time.sleep(0.3)
    descendants = launcher_tree(process.pid)
    process.send_signal(sig)
    out, err = process.communicate(timeout=300)
    return process, (out, err), descendants


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_every_trial_and_keeps_results(tmp_path, sig, code):
    # a limit far beyond what the run reaches before the signal
    process, (out, err), descendants = start_and_interrupt(tmp_path, "run_asha.py", 10_000, sig)
    assert descendants, "no trial processes found"
    assert process.returncode == code, err[-2000:]
    time.sleep(0.5)
    alive = [pid for pid in descendants if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes left behind: {alive}"
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert read_metadata(experiment)["interrupted"] is True
    assert len(pd.read_csv(experiment / "results.csv.zip")) >= 1
    summary = summarize_experiment(experiment)
    assert summary["partial"] and summary["trials"] >= 2
    assert "interrupted" in err


# what each launcher script offers (experiments/run_asha.py, experiments/run_sync_sh.py)
LAUNCHER_METHODS = {"run_asha.py": ASYNC_METHODS, "run_sync_sh.py": SYNC_METHODS}


@pytest.mark.parametrize("script", ["run_asha.py", "run_sync_sh.py"])
def test_resume_completes_an_interrupted_experiment(tmp_path, capsys, script):
    limit = 50  # results: about twice what the run reaches before the interruption when idle
    process, (_, err), _ = start_and_interrupt(tmp_path, script, limit, signal.SIGINT, after_trial=3)
    assert process.returncode == 130, err[-3000:]
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    before = pd.read_csv(experiment / "results.csv.zip")
    completed = run_script([f"experiments/{script}", "--resume", "latest", "--results-dir",
                            str(tmp_path)], timeout=300)
    assert "Resuming" in completed.stdout
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == [experiment]  # one experiment
    after = pd.read_csv(experiment / "results.csv.zip")
    assert len(after) > len(before)
    twice = after[after.duplicated(["trial_id", "epoch"], keep=False)]
    assert twice.empty, f"epochs trained twice:\n{twice.to_string()}"
    for _, trial in after.groupby("trial_id"):
        assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
    # tuner time continues where the interrupted run stopped; the run goes on to its limit
    assert after["st_tuner_time"].iloc[len(before):].min() >= before["st_tuner_time"].max()
    print(f"{len(before)} results before the interruption, {len(after)} after resuming")
    assert len(before) < limit <= len(after)
    metadata = read_metadata(experiment)
    assert metadata["resumed"] == 1 and metadata["interrupted"] is False
    assert metadata["test_error"] is not None
    summary = summarize_experiment(experiment)
    assert not summary["partial"] and summary["trials"] > before["trial_id"].nunique()
    # resuming it again is refused (in this process: the refusal comes before any tuning)
    capsys.readouterr()
    with pytest.raises(SystemExit) as again:
        launch(LAUNCHER_METHODS[script], "test",
               ["--resume", experiment.name, "--results-dir", str(tmp_path)])
    assert again.value.code == 2 and "nothing to resume" in capsys.readouterr().err


def test_resumed_sh_takes_the_result_a_trial_reported_just_before_the_interruption(tmp_path):
    """The race an interruption can hit by chance, made to happen: the first trial to reach its
    rung interrupts the launcher right after reporting, before the tuner's next poll. The
    result is fetched into the results at the interruption; on resume, synchronous SH must take
    it (resuming the trial would train nothing and report nothing) and resume only the others."""
    marker = tmp_path / "interrupted-by"
    process = subprocess.Popen(
        [sys.executable, "experiments/run_sync_sh.py", "--objective", "tests.toy_objectives:interrupting",
         "--workers", "2", "--grace-period", "1", "--max-results", "30", "--results-dir",
         str(tmp_path / "results")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TOY_INTERRUPT_MARKER": str(marker)})
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    trial_id = int(marker.read_text())
    experiment = next((tmp_path / "results").iterdir())
    assert not pd.read_csv(experiment / "results.csv.zip").query("trial_id == @trial_id").empty
    from syne_tune import Tuner

    # the scheduler, as pickled at the interruption, was still waiting for that result
    assert trial_id in Tuner.load(str(experiment)).scheduler.running_levels()
    completed = run_script(["experiments/run_sync_sh.py", "--resume", "latest", "--results-dir",
                            str(tmp_path / "results")], timeout=300,
                           env={"TOY_INTERRUPT_MARKER": str(marker)})
    continued = re.search(r"trials \[([\d, ]*)\] continue", completed.stdout)
    # the others continue from their checkpoints, unless they too had reported (then none does)
    reopened = continued.group(1).split(", ") if continued else []
    assert "Resuming" in completed.stdout and str(trial_id) not in reopened, completed.stdout[:2000]
    results = pd.read_csv(experiment / "results.csv.zip")
    assert not results.duplicated(["trial_id", "step"]).any()
    first_rung = next(r for r in read_metadata(experiment)["rung_history"] if trial_id in r["trials"])
    reported = results.query("trial_id == @trial_id and step == 1")["score"].iloc[0]
    assert first_rung["values"][first_rung["trials"].index(trial_id)] == reported


def test_resumed_sh_records_a_trial_with_nothing_left_to_train_as_failed_and_goes_on(tmp_path):
    """The other side of that race: the trial saved its checkpoint at its rung, and the
    interruption came before its report. Resumed, it has nothing left to train and ends without
    a result: recorded as failed with the reason (Syne Tune's tuner alone would end the whole
    run there), its slot counting as the worst of its rung, and the run goes on to its budget."""
    marker = tmp_path / "interrupted-by"
    env = {"TOY_INTERRUPT_MARKER": str(marker)}
    flags = ["--results-dir", str(tmp_path / "results")]
    interrupted = run_script(["experiments/run_sync_sh.py", "--objective",
                              "tests.toy_objectives:interrupting_before_report", "--workers", "2",
                              "--grace-period", "1", "--max-results", "30", *flags],
                             env=env, check=False, timeout=300)
    assert interrupted.returncode == 130, interrupted.stderr[-3000:]
    trial_id = int(marker.read_text())
    experiment = next((tmp_path / "results").iterdir())
    results = experiment / "results.csv.zip"  # none yet, if no other trial had reported
    assert not results.exists() or pd.read_csv(results).query("trial_id == @trial_id").empty
    run_script(["experiments/run_sync_sh.py", "--resume", "latest", *flags], env=env, timeout=300)
    summary = summarize_experiment(experiment)
    assert summary["failures"] == {str(trial_id): NO_RESULT} and not summary["partial"]
    assert any(trial_id in rung["trials"] and rung["values"][rung["trials"].index(trial_id)] is None
               for rung in read_metadata(experiment)["rung_history"])


def test_a_report_cut_off_before_its_newline_does_not_merge_with_the_next(tmp_path):
    """A trial killed between printing a report and its newline; resumed, it appends the next."""
    from syne_tune.report import retrieve

    from experiments.compat.syne_tune import finish_last_line

    stdout = tmp_path / "std.out"
    stdout.write_text('[tune-metric]: {"epoch": 1}\n[tune-metric]: {"epoch": 2}')  # no newline
    finish_last_line(stdout)
    with stdout.open("a") as f:  # the resumed run
        f.write('[tune-metric]: {"epoch": 3}\n')
    assert [r["epoch"] for r in retrieve(stdout.read_text().splitlines())] == [1, 2, 3]
    finish_last_line(stdout)  # a finished line stays as it is
    finish_last_line(tmp_path / "missing")  # no file: nothing to do
    assert stdout.read_text().endswith('{"epoch": 3}\n') and not (tmp_path / "missing").exists()


def test_damaged_folders_give_clear_messages(tmp_path):
    (tmp_path / "empty").mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "metadata.json").write_text("{not json")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "metadata.json").write_text(json.dumps({"n_workers": 2}))
    (partial / "results.csv.zip").write_bytes(b"PK\x03\x04 truncated")
    for folder, expected in [("empty", "not an experiment"), ("corrupt", "unreadable"),
                             ("missing", "no experiment named")]:
        completed = run_script(["-m", "analysis.summarize", str(tmp_path / folder) if folder != "missing"
                                else folder, "--results-dir", str(tmp_path)], check=False)
        assert completed.returncode == 2 and expected in completed.stderr, completed.stderr
        assert "Traceback" not in completed.stderr
    completed = run_script(["-m", "analysis.summarize", str(partial), "--json"])
    summary = json.loads(completed.stdout)
    assert summary["partial"] is True and summary["trials"] == 0
    completed = run_script(["-m", "analysis.plot_learning_curves", str(partial), "-o",
                            str(tmp_path / "p.png")])
    assert (tmp_path / "p.png").stat().st_size > 0


class _Alarm:
    """Unpickling this writes a file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# Code a folder from someone else could name: importing the module, or calling its attribute,
# writes the marker file.
PLANTED_CODE = """
import os, pathlib
pathlib.Path(os.environ["PLANTED_MARKER"]).write_text("imported " + __name__)
def objective():
    pathlib.Path(os.environ["PLANTED_MARKER"]).write_text("called")
"""


def test_analysing_a_folder_from_someone_else_runs_none_of_its_code(comparison_dir, tmp_path):
    """A copied comparison whose metadata names code to load the objective (a module on the
    path, a .py file) and whose tuner.dill runs code when unpickled: every analysis command
    gives the output of the untouched folder, and nothing it names runs."""
    import shutil

    code = tmp_path / "code"
    code.mkdir()
    (code / "planted_module.py").write_text(PLANTED_CODE)
    (code / "planted_file.py").write_text(PLANTED_CODE)
    marker = tmp_path / "marker"
    env = {"PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
           "PLANTED_MARKER": str(marker)}
    # the planted code does write the marker when it is loaded
    run_script(["-c", "import planted_module"], env=env)
    assert marker.read_text() == "imported planted_module"
    marker.unlink()

    results = tmp_path / "results"
    runs = sorted(p.name for p in comparison_dir.iterdir() if (p / "metadata.json").exists())
    for index, name in enumerate(runs):
        shutil.copytree(comparison_dir / name, results / name)
        metadata = read_metadata(results / name)
        metadata["objective_spec"] = ["planted_module:objective", f"{code / 'planted_file.py'}:objective"][index % 2]
        metadata["objective"] = "../../code/planted_file"  # where a recorded table is looked for
        (results / name / "metadata.json").write_text(json.dumps(metadata))
        (results / name / "tuner.dill").write_bytes(pickle.dumps(_Alarm(str(marker))))
    first = results / runs[0]

    def analyse(*args) -> str:
        return run_script(["-m", *args, "--results-dir", str(results)], env=env).stdout

    listed = json.loads(analyse("analysis.list", "--json"))
    summary = json.loads(analyse("analysis.summarize", str(first), "--json"))
    text = analyse("analysis.summarize", str(first))
    comparison = json.loads(analyse("analysis.compare", "smoke-cmp", "--json", "--output-dir", str(tmp_path / "cmp")))
    analyse("analysis.plot_learning_curves", str(first), "-o", str(tmp_path / "curves.png"))
    analyse("analysis.report", "smoke-cmp", "-o", str(tmp_path / "comparison.html"))
    analyse("analysis.report", str(first), "-o", str(tmp_path / "run.html"))
    assert not marker.exists(), marker.read_text()

    # the output of the untouched folder, but for where the folder is
    original = summarize_experiment(comparison_dir / runs[0])
    assert sorted(e["name"] for e in listed) == runs
    for key in ("best_validation_error", "best_trial_id", "best_config", "trials", "epochs_total", "test_error"):
        assert summary[key] == original[key], key
    assert summary["load_best_model"] == [line.replace(str(comparison_dir), str(results))
                                          for line in original["load_best_model"]]
    assert summary["load_best_model"][1] in text and "build_model" in summary["load_best_model"][0]
    assert set(comparison["methods"]) == {"asha", "sync_sh"}
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    page = (tmp_path / "run.html").read_text()
    assert html.escape(summary["load_best_model"][1]) in page
    assert all(name in (tmp_path / "comparison.html").read_text() for name in runs)

    # a folder made before the lines were recorded in its metadata: no lines, nothing loaded
    metadata = read_metadata(first)
    del metadata["load_model_code"]
    (first / "metadata.json").write_text(json.dumps(metadata))
    assert "load_best_model" not in json.loads(analyse("analysis.summarize", str(first), "--json"))
    assert not marker.exists()


def test_too_many_failed_trials_abort_the_run(tmp_path):
    completed = run_script(["experiments/run_asha.py", "--method", "asha",
                            "--objective", "tests.toy_objectives:crashing",
                            "--workers", "2", "--max-failures", "2", "--max-trials", "1000",
                            "--results-dir", str(tmp_path)], check=False)
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert "more than --max-failures 2" in completed.stderr
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert read_metadata(experiment)["aborted"] == "too many failed trials"
    summary = summarize_experiment(experiment)
    # the third ends it, long before its 1000 trials; one more may fail meanwhile
    assert 3 <= summary["trials_failed"] <= 4 and summary["partial"]
    assert all("toy failure at step 2" in error for error in summary["failures"].values())


def test_a_trial_killed_by_sigkill_is_recorded_with_the_signal_and_the_run_goes_on(tmp_path):
    experiment = run_launcher("run_asha.py", tmp_path, "--method", "asha", "--objective", "tests.toy_objectives:killed",
                              "--workers", "2", "--max-failures", "1000", "--max-trials", "6")
    summary = summarize_experiment(experiment)
    assert summary["trials_failed"] >= 6 and not summary["partial"]  # on to the run's limit
    assert all("killed by SIGKILL" in error for error in summary["failures"].values()), summary["failures"]


def test_asynchronous_hyperband_runs_brackets_that_skip_the_first_rung(tmp_path):
    """With a bracket per rung level, trials are spread over brackets, and a trial of a later
    bracket is never stopped below that bracket's first rung (its first decision point)."""
    # x + 1/epoch over x in [-0.2, 0]: every rung (1, 2, 4) tells the trials apart
    space = {**toy_space(max_epochs=4), "x": uniform(-0.2, 0.0)}
    path = run_toy(tmp_path, "hyperband", "warm", space, StoppingCriterion(max_num_trials_started=60), max_t=4)
    levels = {int(t): v for t, v in read_metadata(path)["trial_brackets"].items()}  # trial -> its rungs
    assert {tuple(v) for v in levels.values()} >= {(1, 2, 4), (2, 4)}, levels  # several brackets in use
    last = pd.read_csv(path / "results.csv.zip").groupby("trial_id")["epoch"].max()
    ended = {s.trial_id: s.status for s in timeline_of(read_metadata(path))}
    for trial, epoch in last.items():
        if ended[trial] in ("Completed", "Stopped"):  # not cut off by the end of tuning
            assert epoch in levels[trial], (trial, epoch, levels[trial])
    stopped_at_one = {trial for trial, epoch in last.items() if epoch == 1 and ended[trial] == "Stopped"}
    assert stopped_at_one and all(levels[t][0] == 1 for t in stopped_at_one)
    assert any(levels[t][0] > 1 for t in last.index)  # trials that rung 1 could not stop


# BOHB's KDE fits once 20 trials have finite results (15% of them must be more than the two
# hyperparameters): about twice as many trials, as half diverge
@pytest.mark.parametrize("method,trials", [("asha", 24), ("sync_sh", 24), ("bohb", 48)])
def test_a_diverged_trial_counts_as_the_worst_and_never_passes_its_first_rung(tmp_path, method, trials):
    """Half of the space reports NaN or +inf (the score is maximised: +inf would rank first).
    Each such trial is stopped at its first report, at the first rung (grace period 1); the
    trials that did not diverge are promoted; the searcher never learns a non-finite value."""
    import math

    import numpy as np

    from experiments.tuning.build import build_tuner
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    plan = make_plan(RunRequest(objective="tests.toy_objectives:diverging", method=method, workers=2,
                                max_trials=trials, grace_period=1, reduction_factor=2, seed=0,
                                results_dir=tmp_path))
    tuner = build_tuner(plan)
    experiment = run_plan(plan, tuner)
    results = pd.read_csv(experiment / "results.csv.zip")
    diverged = set(results.loc[~np.isfinite(results["score"]), "trial_id"])
    assert len(diverged) >= 4, results[["trial_id", "step", "score"]]
    reports = results.groupby("trial_id")["step"].agg(["max", "size"])
    assert (reports.loc[sorted(diverged)] == 1).all().all(), reports  # one report each, at step 1
    assert reports["max"].max() >= 4  # finite trials were promoted
    seen = [value for values in tuner.scheduler.searcher.trial_results.values() for value in values]
    assert seen and all(math.isfinite(v) for v in seen)
    summary = summarize_experiment(experiment)
    assert summary["trials_diverged"] == len(diverged)
    assert math.isfinite(summary["best_score"]) and summary["best_config"]["x"] <= 0.5
    # the learning curves mark each diverged report, and the best so far runs on past them
    import matplotlib

    matplotlib.use("Agg")
    from analysis.experiments import load
    from analysis.plot_learning_curves import plot_learning_curves

    axes = plot_learning_curves(load(str(experiment))).axes[0]
    marks = next(c for c in axes.collections if c.get_label().startswith("diverged"))
    assert len(marks.get_offsets()) == len(diverged)
    best_so_far = np.asarray(next(line for line in axes.get_lines() if line.get_label() == "best so far").get_ydata())
    assert np.isfinite(best_so_far[np.argmax(np.isfinite(best_so_far)):]).all()  # from its first value on
    if method == "sync_sh":  # a diverged trial holds a worst slot, ranked below every finite one
        for rung in read_metadata(experiment)["rung_history"]:
            assert [t in diverged for t in rung["trials"]] == [v is None for v in rung["values"]], rung
            finite = [t for t in rung["ranked"] if t not in diverged]
            assert rung["ranked"][:len(finite)] == finite, rung
    if method == "bohb":
        counts = read_metadata(experiment)["searcher_counts"]
        assert counts["model"] > 0 and counts["fallback"] == 0, counts


def test_a_report_without_the_declared_metric_fails_its_trial_and_the_run_goes_on(tmp_path):
    completed = run_script(["experiments/run_asha.py", "--method", "asha",
                            "--objective", "tests.toy_objectives:misreporting",
                            "--workers", "2", "--max-trials", "4", "--results-dir", str(tmp_path)])
    assert "Traceback" not in completed.stdout + completed.stderr
    experiment = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert read_metadata(experiment)["finished"]  # on to its limit of 4 trials ended
    summary = summarize_experiment(experiment)
    assert summary["trials_failed"] >= 4
    assert all(error.endswith("reported scor, step without score: report score and step each time, "
                              "or declare the names you report as the Objective's metric and resource_attr")
               for error in summary["failures"].values()), summary["failures"]
