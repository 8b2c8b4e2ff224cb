"""Experiments written by an earlier version of the suite resume with this one.

tests/data/written_before_plan_key/ holds two experiments the suite wrote before the run's
plan was read back from one metadata entry (`RunPlan.from_metadata`): ASHA and synchronous SH
on the toy objective, 2 workers, `--max-results 60`, each interrupted (SIGTERM) after its
first trials had reported. They are copied to a new folder first: an experiment moved after it
was written resumes where it is now.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis import experiment_folder as folder
from experiments.tuning.plan import RunPlan
from tests.conftest import REPO, run_script

WRITTEN_BEFORE = REPO / "tests" / "data" / "written_before_plan_key"
LAUNCHERS = {"asha": "run_asha.py", "sync_sh": "run_sync_sh.py"}


def copy_of(method: str, results_dir: Path) -> Path:
    original = next(p for p in WRITTEN_BEFORE.iterdir() if folder.read_metadata(p)[folder.SCHEDULER] == method)
    return Path(shutil.copytree(original, results_dir / original.name))


def test_the_plan_read_back_is_the_one_the_experiment_ran_with(tmp_path):
    experiment = copy_of("sync_sh", tmp_path)
    metadata = folder.read_metadata(experiment)
    plan = RunPlan.from_metadata(metadata, experiment)
    assert (plan.method, plan.n_workers, plan.max_results, plan.grace_period, plan.reduction_factor) == (
        "sync_sh", 2, 60, 1, 2)
    assert plan.budget_s is None and plan.objective.name == "quadratic"
    assert plan.results_dir == tmp_path and plan.experiment_name == experiment.name
    assert plan.request.max_results == 60 and plan.request.results_dir == tmp_path


@pytest.mark.parametrize("method", sorted(LAUNCHERS))
def test_an_experiment_written_before_resumes_to_its_limit(tmp_path, method):
    experiment = copy_of(method, tmp_path)
    before = pd.read_csv(experiment / folder.RESULTS_FILE)
    assert 0 < len(before) < 60 and folder.read_metadata(experiment)[folder.INTERRUPTED]
    completed = run_script([f"experiments/{LAUNCHERS[method]}", "--resume", "latest", "--results-dir",
                            str(tmp_path)], timeout=300)
    assert "Resuming" in completed.stdout
    after = pd.read_csv(experiment / folder.RESULTS_FILE)
    assert len(after) >= 60  # the experiment's own --max-results
    assert after.iloc[:len(before)][before.columns].equals(before)
    assert after[after.duplicated(["trial_id", "step"])].empty, "steps trained twice"
    # the trials started on resume write into the folder where the experiment is now
    new_trials = set(after["trial_id"]) - set(before["trial_id"])
    assert new_trials and all((experiment / str(t) / "std.out").exists() for t in new_trials)
    # they fork from a forkserver that preloaded the objective, as the first run's trials did
    assert (after.loc[after["trial_id"].isin(new_trials), "preloaded"] == 1).all()
    metadata = folder.read_metadata(experiment)
    assert metadata[folder.RESUMED] == 1 and metadata[folder.FINISHED] and not metadata[folder.INTERRUPTED]
