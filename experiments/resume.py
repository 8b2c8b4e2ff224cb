"""Continue an interrupted experiment to its original wall-clock budget, in the same folder.

The tuner pickled in the experiment (`tuner.dill`, written by Syne Tune every few seconds and
at the interruption) is loaded with its scheduler, searcher and results, so the continued run
is one experiment: same results file, same trial ids, times continuing where they stopped.
Only resume experiments you ran yourself: loading a pickle runs code from it.

What the interruption killed is handled so that no completed epoch is trained again:
- synchronous SH: trials of the running rung are resumed from their checkpoints (those that
  had reached it already give the scheduler their stored result instead);
- ASHA: trials that were running stay ended with the epochs they completed; new trials start.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from syne_tune import StoppingCriterion
from syne_tune.backend.trial_status import Status

from experiments.sync_sh import SynchronousSuccessiveHalving


class CannotResume(Exception):
    """The message says why and what to do."""


def elapsed_seconds(experiment_dir: Path, metadata: dict) -> float:
    """Tuner time the interrupted run had used."""
    ends = [segment["end_s"] or 0.0 for segment in metadata.get("trial_timeline", [])]
    import pandas as pd

    results_file = experiment_dir / "results.csv.zip"
    if results_file.exists():
        ends.append(float(pd.read_csv(results_file)["st_tuner_time"].max()))
    return max(ends, default=0.0)


def reopen_interrupted_rung(tuner, experiment_dir: Path) -> list[int]:
    """Let synchronous SH resume the trials its running rung was waiting for.

    A trial may have reached the rung just before the interruption: its result is in the
    results file (fetched at the interruption) but the scheduler never saw it. The scheduler
    is given that result now; resuming the trial would train nothing and report nothing.
    """
    import pandas as pd

    scheduler = tuner.scheduler
    if not isinstance(scheduler, SynchronousSuccessiveHalving):
        return []
    backend = tuner.trial_backend
    results_file = experiment_dir / "results.csv.zip"
    results = pd.read_csv(results_file) if results_file.exists() else pd.DataFrame()
    for trial_id in sorted(scheduler.pending):
        backend._trial_dict[trial_id].status = Status.paused  # resumable again
        (backend.trial_path(trial_id) / "stop").unlink(missing_ok=True)  # written when killed
        reported = results[results["trial_id"] == trial_id] if not results.empty else results
        if not reported.empty and reported[scheduler.time_attr].max() >= scheduler.level:
            last = reported.loc[reported[scheduler.time_attr].idxmax()].to_dict()
            scheduler.on_trial_result(backend._trial_dict[trial_id], last)
    reopened = sorted(scheduler.pending)
    for trial_id in reopened:
        scheduler.pending.discard(trial_id)
    scheduler.to_resume = reopened + scheduler.to_resume
    return reopened


def load_interrupted(experiment_dir: Path):
    """The pickled tuner of an interrupted experiment, ready to run the rest of its budget."""
    from syne_tune import Tuner

    metadata = json.loads((experiment_dir / "metadata.json").read_text())
    if "test_error" in metadata and not metadata.get("interrupted"):
        raise CannotResume(f"{experiment_dir.name} finished its budget: nothing to resume")
    if not (experiment_dir / "tuner.dill").exists():
        raise CannotResume(f"{experiment_dir} has no tuner.dill: it cannot be resumed")
    elapsed = elapsed_seconds(experiment_dir, metadata)
    budget = float(metadata["max_wallclock_time"])
    if elapsed >= budget:
        raise CannotResume(f"{experiment_dir.name} used its whole budget ({budget:g} s)")
    os.environ["SYNETUNE_FOLDER"] = str(experiment_dir.parent)  # Tuner.load finds its folder so
    tuner = Tuner.load(str(experiment_dir))
    # The tuner's clock continues from where the interrupted run stopped.
    tuner.tuning_status.start_time = time.perf_counter() - elapsed
    tuner.stop_criterion = StoppingCriterion(max_wallclock_time=budget)
    reopened = reopen_interrupted_rung(tuner, experiment_dir)
    # The tuner rewrites metadata.json from its own copy when it starts: bring that copy up to
    # date with what was added after it was pickled.
    tuner.metadata.update(metadata, interrupted=False, resumed=int(metadata.get("resumed", 0)) + 1)
    return tuner, metadata, elapsed, reopened
