"""Analysis of experiments: name resolution, summary, plots, the notebook."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from analysis.experiments import ExperimentNotFound, resolve_experiment
from analysis.summarize import summarize_experiment
from tests.conftest import REPO, run_launcher, run_script

SUMMARY_KEYS = {
    "name", "objective", "scheduler", "n_workers", "trials", "trials_stopped_early",
    "epochs_total", "best_validation_error", "best_config", "test_error", "wallclock_s",
    "worker_utilization",
}


def test_summary_json_from_the_shell(smoke_experiment, smoke_results_dir):
    completed = run_script(["-m", "analysis.summarize", "latest", "--results-dir",
                            str(smoke_results_dir), "--json"])
    summary = json.loads(completed.stdout)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["name"] == smoke_experiment.name
    assert summary["n_workers"] == 2
    # the run ended once 8 trials had ended, each after reporting at least once
    assert summary["trials"] >= 8 and summary["trials_stopped_early"] >= 1
    assert summary["epochs_total"] >= summary["trials"]
    assert summary["best_validation_error"] == pd.read_csv(smoke_experiment / "results.csv.zip")["validation_error"].min()
    assert set(summary["best_config"]) == {"learning_rate", "batch_size"}
    # two workers kept busy for the whole run, start-up included
    assert 0.8 <= summary["worker_utilization"] <= 1.0
    assert summary["wallclock_s"] > 0


def test_experiment_is_found_by_name_prefix_path_and_latest(smoke_experiment, smoke_results_dir):
    for spec in (smoke_experiment.name, "asha-fashion", str(smoke_experiment), "latest"):
        assert resolve_experiment(spec, smoke_results_dir) == smoke_experiment
    with pytest.raises(ExperimentNotFound, match="no experiment named"):
        resolve_experiment("sync-sh", smoke_results_dir)


def test_unknown_experiment_is_a_clear_error(tmp_path):
    completed = run_script(["-m", "analysis.summarize", "latest", "--results-dir", str(tmp_path)],
                           check=False)
    assert completed.returncode == 2
    assert "no experiments in" in completed.stderr and "Traceback" not in completed.stderr


def test_learning_curve_plot_is_a_png(smoke_experiment, smoke_results_dir, tmp_path):
    output = tmp_path / "curves.png"
    run_script(["-m", "analysis.plot_learning_curves", smoke_experiment.name, "--results-dir",
                str(smoke_results_dir), "-o", str(output)])
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000  # axes, curves and legend, not an empty canvas


def test_summary_of_copied_experiment_without_timeline(smoke_experiment, tmp_path):
    """An experiment without the launcher's timeline (e.g. killed hard) still summarises."""
    copy = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, copy, ignore=shutil.ignore_patterns("[0-9]*"))
    metadata = json.loads((copy / "metadata.json").read_text())
    del metadata["trial_timeline"]
    (copy / "metadata.json").write_text(json.dumps(metadata))
    summary = summarize_experiment(copy)
    assert summary["trials"] >= 5
    assert 0.5 <= summary["worker_utilization"] <= 1.0


def test_summary_of_a_run_in_progress_without_worker_times(smoke_experiment, tmp_path):
    """A run still going (a study analysed while it runs) has neither the timeline nor, from a
    simulated backend, worker times in its results: trials then start at their first report."""
    copy = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, copy, ignore=shutil.ignore_patterns("[0-9]*"))
    metadata = json.loads((copy / "metadata.json").read_text())
    del metadata["trial_timeline"]
    (copy / "metadata.json").write_text(json.dumps(metadata))
    results = pd.read_csv(copy / "results.csv.zip")
    results.drop(columns="st_worker_time").to_csv(copy / "results.csv.zip", index=False)
    summary = summarize_experiment(copy)
    assert summary["trials"] == results["trial_id"].nunique()
    assert 0 < summary["worker_utilization"] < 1.0  # the first epoch of each trial is not counted


def test_notebook_runs_against_an_experiment(smoke_experiment, smoke_results_dir, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SYNETUNE_FOLDER", str(smoke_results_dir))
    notebook = nbformat.read(REPO / "analysis" / "learning_curves.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any(smoke_experiment.name in o.get("text", "") for o in outputs)


def test_recorded_configurations_are_resolved_in_trials_test_score_and_summary(tmp_path):
    """A run over recorded configurations searches their ids: the trials train the configuration
    an id names, the best one is scored on the test data, the summary shows id and values."""
    from objectives.tables import recorded_configurations

    experiment = run_launcher("run_asha.py", tmp_path, "--method", "asha", "--smoke", "--max-results", "8",
                              "--search-space", "recorded")
    summary = summarize_experiment(experiment)
    recorded = recorded_configurations("fashion_mnist_lenet")
    best = summary["best_config"]
    assert best == {"config_id": best["config_id"], **recorded[best["config_id"]]}
    assert summary["test_error"] is not None
