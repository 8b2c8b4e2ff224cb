"""Continue an interrupted experiment to its original limits (wall-clock budget, results,
trials ended), in the same folder.

The tuner pickled in the experiment (`tuner.dill`, written by Syne Tune every few seconds and
at the interruption) is loaded with its scheduler, searcher and results, so the continued run
is one experiment: same results file, same trial ids, times continuing where they stopped.
Only resume experiments you ran yourself: loading a pickle runs code from it.

What the interruption killed is handled so that no completed epoch is trained again:
- synchronous SH: trials of the running rungs are resumed from their checkpoints (those that
  had reached their rung already give the scheduler their stored result instead; one that
  had saved its checkpoint at the rung but lost its report to the interruption has nothing
  left to train, ends without a result and is recorded as failed);
- ASHA: trials that were running stay ended with the epochs they completed; new trials start.
- Optuna's methods: the same, and Optuna's study is told that those trials failed (left
  running, TPE's constant liar would hold them against their configurations for good).
- SMAC's method: SMAC is told those evaluations failed (its intensifier would otherwise wait
  for them for good); SMAC itself is rebuilt from the pickle by repeating its calls.
- DEHB's method: the same (DEHB's brackets wait for them too); DEHB itself is in the pickle.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from analysis import experiment_folder as folder
from analysis.experiments import resolve_experiment
from experiments.compat.syne_tune import SchedulingTuner, count_results_seen, make_resumable, trial_of
from experiments.schedulers.sync_sh import SynchronousSuccessiveHalving
from experiments.tuning.build import stopping_criterion
from experiments.tuning.callbacks import count_kept_results
from experiments.tuning.plan import RunPlan
from objectives.usage import UsageError


class CannotResume(UsageError):
    """The message says why and what to do."""


def elapsed_seconds(results: pd.DataFrame, metadata: dict) -> float:
    """Tuner time the interrupted run had used."""
    ends = [segment.end_s or 0.0 for segment in folder.timeline_of(metadata)]
    if not results.empty:
        ends.append(float(results["st_tuner_time"].max()))
    return max(ends, default=0.0)


def stored_results(experiment_dir: Path) -> pd.DataFrame:
    results_file = experiment_dir / folder.RESULTS_FILE
    return pd.read_csv(results_file) if results_file.exists() else pd.DataFrame()


def reopen_interrupted_rungs(tuner, results: pd.DataFrame) -> list[int]:
    """Let synchronous SH resume the trials its running rungs were waiting for.

    A trial may have reached its rung just before the interruption: its result is in the
    results file (fetched at the interruption) but the scheduler never saw it. The scheduler
    is given that result now; resuming the trial would train nothing and report nothing.
    """
    scheduler = tuner.scheduler
    if not isinstance(scheduler, SynchronousSuccessiveHalving):
        return []
    backend = tuner.trial_backend
    for trial_id, level in sorted(scheduler.running_levels().items()):
        make_resumable(backend, trial_id)
        (backend.trial_path(trial_id) / "stop").unlink(missing_ok=True)  # written when killed
        reported = results[results["trial_id"] == trial_id] if not results.empty else results
        if not reported.empty and reported[scheduler.time_attr].max() >= level:
            last = reported.loc[reported[scheduler.time_attr].idxmax()].to_dict()
            scheduler.on_trial_result(trial_of(backend, trial_id), last)
    return scheduler.requeue_running()


def check_limits_left(experiment_dir: Path, metadata: dict, results: pd.DataFrame, elapsed: float) -> None:
    budget, max_results = metadata.get(folder.BUDGET_S), metadata.get(folder.MAX_RESULTS)
    if budget is not None and elapsed >= float(budget):
        raise CannotResume(f"{experiment_dir.name} used its whole budget ({float(budget):g} s)")
    if max_results is not None and len(results) >= int(max_results):
        raise CannotResume(f"{experiment_dir.name} has its {max_results} results (--max-results)")


def load_interrupted(experiment_dir: Path):
    """(plan, tuner, metadata, elapsed seconds, reopened trials) of an interrupted experiment,
    its tuner ready to run to the experiment's own limits."""
    metadata = folder.read_metadata(experiment_dir)
    if not folder.is_partial(metadata, pd.DataFrame()):
        raise CannotResume(f"{experiment_dir.name} finished its budget: nothing to resume")
    if not (experiment_dir / folder.TUNER_FILE).exists():
        raise CannotResume(f"{experiment_dir} has no {folder.TUNER_FILE}: it cannot be resumed "
                           f"(simulated runs and Ray Tune runs are not resumable)")
    if folder.OBJECTIVE_SPEC not in metadata:
        raise CannotResume(f"{experiment_dir.name} was written by an older version of the suite; "
                           f"it can be analysed but not resumed")
    results = stored_results(experiment_dir)  # what the interrupted run stored, read once
    elapsed = elapsed_seconds(results, metadata)
    check_limits_left(experiment_dir, metadata, results, elapsed)
    plan = RunPlan.from_metadata(metadata, experiment_dir)
    tuner = SchedulingTuner.load_from(experiment_dir)
    # The tuner's clock continues from where the interrupted run stopped.
    tuner.tuning_status.start_time = time.perf_counter() - elapsed
    tuner.stop_criterion = stopping_criterion(plan)
    # Reports fetched at the interruption are in the results, maybe not in the saved tuner:
    # neither its backend nor its count of results (--max-results) has seen them.
    for trial_id, count in (results.groupby("trial_id").size().items() if not results.empty else []):
        count_results_seen(tuner.trial_backend, int(trial_id), int(count))
    count_kept_results(tuner, len(results))
    reopened = reopen_interrupted_rungs(tuner, results)
    if hasattr(tuner.scheduler, "end_running"):  # OptunaScheduler, SmacHyperbandScheduler, DehbScheduler
        tuner.scheduler.end_running()
    # The tuner rewrites metadata.json from its own copy when it starts: bring that copy up to
    # date with what was added after it was pickled.
    tuner.metadata.update(metadata, **{folder.INTERRUPTED: False,
                                       folder.RESUMED: int(metadata.get(folder.RESUMED, 0)) + 1})
    return plan, tuner, metadata, elapsed, reopened


def plan_resume(spec: str, results_dir: Path | None, methods: list[str]):
    """(plan, tuner, message) to continue the interrupted experiment `spec` with the launcher
    of `methods`."""
    from analysis.experiments import default_results_dir

    experiment_dir = resolve_experiment(spec, (results_dir or default_results_dir()).expanduser())
    try:
        plan, tuner, metadata, elapsed, reopened = load_interrupted(experiment_dir)
    except CannotResume as e:
        raise CannotResume(f"--resume {spec}: {e}") from None
    if metadata.get(folder.SCHEDULER) not in methods:
        raise CannotResume(f"--resume: {experiment_dir.name} ran {metadata.get(folder.SCHEDULER)}; "
                           f"resume it with that method's launcher")
    message = (f"Resuming {experiment_dir.name} at {elapsed:.1f} s, until {folder.limits_of(metadata)}"
               + (f"; trials {reopened} continue from their checkpoints" if reopened else ""))
    return plan, tuner, message
