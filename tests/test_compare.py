"""ASHA versus synchronous SH end to end: real tuners on synthetic data, then the analysis."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import REPO, read_metadata, run_script


def experiments_of(results_dir):
    return [p for p in results_dir.iterdir() if (p / "metadata.json").exists()]


def test_one_experiment_per_method_and_seed(comparison_dir):
    runs = {(m["method"], m["seed"]) for m in map(read_metadata, experiments_of(comparison_dir))}
    assert runs == {("asha", 0), ("asha", 1), ("sync_sh", 0), ("sync_sh", 1)}
    for path in experiments_of(comparison_dir):
        metadata = read_metadata(path)
        assert metadata["comparison"] == "smoke-cmp"
        assert metadata["max_results"] == 16 and metadata["max_wallclock_time"] is None
        assert metadata["n_workers"] == 2


def test_sync_sh_promotes_only_complete_rungs_and_trains_no_epoch_twice(comparison_dir):
    # max 4 epochs, grace period 1, eta 2: rungs at epochs 1, 2, 4 of 4, 2 and 1 trials; the
    # busy variant runs several brackets side by side, so the rungs are read from its record
    checked = 0
    for path in experiments_of(comparison_dir):
        metadata = read_metadata(path)
        if metadata["method"] != "sync_sh":
            continue
        results = pd.read_csv(path / "results.csv.zip")
        for _, trial in results.groupby("trial_id"):
            assert trial["epoch"].tolist() == list(range(1, len(trial) + 1))
        for rung in metadata["rung_history"]:
            context = f"{rung}\n" + results[["trial_id", "epoch", "st_tuner_time", "validation_error"]].to_string()
            assert len(rung["trials"]) == {1: 4, 2: 2, 4: 1}[rung["level"]], context
            # ranked by value, a failed slot (None) last, ties in slot order
            expected = [t for _, _, t in sorted(
                (v is None, v or 0.0, i) for i, v in enumerate(rung["values"]))]
            assert rung["ranked"] == [rung["trials"][i] for i in expected], context
            assert rung["promoted"] == rung["ranked"][: {1: 2, 2: 1, 4: 0}[rung["level"]]], context
            at_rung = results[results["trial_id"].isin(rung["trials"]) & (results["epoch"] == rung["level"])]
            beyond = results[results["trial_id"].isin(rung["promoted"]) & (results["epoch"] > rung["level"])]
            # promoted only once every trial of the rung has reported at its level
            assert beyond.empty or beyond["st_tuner_time"].min() >= at_rung["st_tuner_time"].max(), context
            checked += 1
    assert checked >= 4


def test_comparison_json_reports_every_run(comparison_dir):
    from scipy.stats import trim_mean

    completed = run_script(["-m", "analysis.compare", "latest", "--results-dir",
                            str(comparison_dir), "--json", "--output-dir", str(comparison_dir / "report")])
    comparison = json.loads(completed.stdout)
    assert comparison["comparison"] == "smoke-cmp"
    assert set(comparison["methods"]) == {"asha", "sync_sh"}
    finals = {}
    for method, entry in comparison["methods"].items():
        assert [run["seed"] for run in entry["runs"]] == [0, 1]
        for run in entry["runs"]:
            assert {"experiment", "final_best_validation_error", "time_to_target_s", "trials",
                    "epochs", "worker_utilization", "idle_worker_s", "tuner_cpu_s"} <= set(run)
            results = pd.read_csv(comparison_dir / run["experiment"] / "results.csv.zip")
            assert run["final_best_validation_error"] == results["validation_error"].min()
            assert run["trials"] == results["trial_id"].nunique() and run["epochs"] == len(results)
            assert 0 < run["worker_utilization"] <= 1
            assert 0 < run["tuner_cpu_s"] < 600  # the tuner's own CPU, recorded by the launcher
            finals[(method, run["seed"])] = (run, results)
        summary = entry["summary"]["final_best_validation_error"]
        values = [run["final_best_validation_error"] for run in entry["runs"]]
        assert summary["n"] == 2 and summary["value"] == pytest.approx(trim_mean(values, 0.25))
        assert min(values) <= summary["ci95"][0] <= summary["ci95"][1] <= max(values)
    assert comparison["reference"] == "asha" and "differences" in comparison["methods"]["sync_sh"]
    # the default target is the median of the final bests; time to target is the first time
    # the best so far reaches it, None where it never does
    target = comparison["target"]
    assert target == pytest.approx(pd.Series([r["final_best_validation_error"] for r, _ in finals.values()]).median())
    for run, results in finals.values():
        ordered = results.sort_values("st_tuner_time")
        hits = ordered[ordered["validation_error"].cummin() <= target]["st_tuner_time"]
        assert run["time_to_target_s"] == (None if hits.empty else round(hits.iloc[0], 2))


def test_report_files(comparison_dir, tmp_path):
    completed = run_script(["-m", "analysis.compare", "smoke", "--results-dir",
                            str(comparison_dir), "--output-dir", str(tmp_path), "--target", "0.95"])
    assert "asha" in completed.stdout and "sync_sh" in completed.stdout
    for name in ("comparison.png", "worker_timeline.png", "rung_curves.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:4] == b"\x89PNG" and len(data) > 10_000
    table = pd.read_csv(tmp_path / "table.csv")
    assert set(table["method"]) == {"asha", "sync_sh"}
    assert {"final_best_validation_error", "final_best_validation_error_low",
            "time_to_target_s_reached"} <= set(table.columns)
    assert pd.api.types.is_float_dtype(table["final_best_validation_error"])  # numbers, not text
    assert (tmp_path / "table.md").read_text().startswith("| method |")


def test_unknown_method_exits_2(tmp_path):
    completed = run_script(["experiments/compare.py", "--smoke", "--methods", "asha,hyperbandit",
                            "--results-dir", str(tmp_path / "r")], check=False)
    assert completed.returncode == 2 and "hyperbandit" in completed.stderr
    assert not (tmp_path / "r").exists()


def test_notebook_runs_against_the_comparison(comparison_dir, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SYNETUNE_FOLDER", str(comparison_dir))
    notebook = nbformat.read(REPO / "analysis" / "asha_vs_sh.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 3
