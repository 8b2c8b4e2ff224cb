"""Run a planned experiment: tune, then evaluate the best trial on the test data.

A run that ends early (interrupted, or too many failed trials) keeps everything reported so
far and raises `RunEnded` with the exit code a command should end with.
"""

from __future__ import annotations

import contextlib
import io
import signal
import time
from pathlib import Path
from typing import Callable

from analysis import experiment_folder as folder
from experiments.schedulers import scheduler_record
from experiments.tuning.build import build_tuner
from experiments.tuning.callbacks import MetricNotReported
from experiments.tuning.plan import RunPlan
from objectives.tables import trial_hyperparameters
from objectives.usage import USAGE_EXIT_CODE


class RunEnded(Exception):
    """Tuning ended early; everything reported so far is stored in `experiment_dir`."""

    def __init__(self, experiment_dir: Path, reason: str, exit_code: int):
        super().__init__(reason)
        self.experiment_dir = experiment_dir
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so that the tuner's clean-up runs."""


def raise_terminated(signum, frame):
    raise Terminated()


def deliver_sigterm_as_interrupt() -> None:
    """For commands (not libraries): let SIGTERM stop a run as cleanly as Ctrl-C does."""
    signal.signal(signal.SIGTERM, raise_terminated)


def interrupted(experiment_dir: Path, error: KeyboardInterrupt) -> RunEnded:
    """Mark the experiment interrupted; the RunEnded that exits 130 (Ctrl-C) or 143 (SIGTERM)."""
    folder.update_metadata(experiment_dir, **{folder.INTERRUPTED: True})
    by_sigterm = isinstance(error, Terminated)
    return RunEnded(experiment_dir, f"interrupted by {'SIGTERM' if by_sigterm else 'SIGINT'}",
                    143 if by_sigterm else 130)


def best_trial(plan: RunPlan, experiment) -> tuple[int | None, dict | None]:
    """(trial id, its hyperparameters) of the experiment's best finite result, or (None, None)."""
    best = folder.best_row(experiment.results, experiment.metadata)
    if best is None:
        return None, None
    searched = folder.hyperparameter_values(best, experiment.metadata, experiment.results)
    return int(best["trial_id"]), trial_hyperparameters(searched, plan.objective.name, plan.objective.search_space)


def evaluate_best_on_test(plan: RunPlan, experiment_dir: Path,
                          checkpoint_path: Callable[[int], Path] | None) -> dict:
    """The best trial's score on the objective's test data, from its last checkpoint (found
    by `checkpoint_path(trial_id)`; None where no weights were trained, as in simulation)."""
    from analysis.experiments import load

    trial_id, config = best_trial(plan, load(str(experiment_dir)))
    entry = {folder.BEST_TRIAL_ID: trial_id}
    if plan.objective.evaluate_test is None:
        return entry
    score = None
    if trial_id is not None and checkpoint_path is not None:
        try:
            score = plan.objective.evaluate_test(config, str(checkpoint_path(trial_id)), plan.data)
        except FileNotFoundError:
            score = None  # the best trial was killed before its first checkpoint
    return {**entry, plan.objective.test_metric: score}


def tuner_cpu_s(experiment_dir: Path, cpu_before: float) -> float:
    """CPU seconds this process spent in the tuner since `cpu_before`, plus what the run spent
    before an interruption (a resumed run): the scheduler's decisions and the backend's
    bookkeeping, not the trials, which run in processes of their own (in a simulated run the
    replay of the recorded curves counts too, a small share next to a model's fitting)."""
    earlier = folder.read_metadata(experiment_dir).get(folder.TUNER_CPU_S) or 0.0
    return round(float(earlier) + time.process_time() - cpu_before, 3)


def run_plan(plan: RunPlan, tuner=None) -> Path:
    """Run the tuner (a new one built from `plan`, or `tuner`), then evaluate the best trial on
    the test data; return the experiment folder.

    On Ctrl-C or SIGTERM, Syne Tune's tuner stores the results and kills the running trials;
    here the experiment is then marked interrupted and RunEnded raised. Too many failed trials
    end the run the same way.
    """
    tuner = tuner or build_tuner(plan)
    experiment_dir = Path(tuner.tuner_path)
    cpu_before = time.process_time()
    try:
        # Syne Tune prints a table of every trial at the end of a run: simulated runs, hundreds
        # of them in a study, stay quiet
        with contextlib.redirect_stdout(io.StringIO()) if plan.simulated else contextlib.nullcontext():
            tuner.run()
    except KeyboardInterrupt as e:
        raise interrupted(experiment_dir, e) from None
    except MetricNotReported as e:
        folder.update_metadata(experiment_dir, **{folder.ABORTED: "metric not reported"})
        raise RunEnded(experiment_dir, f"{e}; the run stopped at the first trial that reported without them",
                       USAGE_EXIT_CODE) from None
    except Exception:
        failed = tuner.tuning_status.num_trials_failed if tuner.tuning_status else 0
        if failed <= plan.max_failures:
            raise
        folder.update_metadata(experiment_dir, **{folder.ABORTED: "too many failed trials"})
        raise RunEnded(experiment_dir, f"{failed} trials failed, more than --max-failures "
                       f"{plan.max_failures}: see the failures below", 1) from None
    folder.update_metadata(experiment_dir, **scheduler_record(tuner.scheduler),
                           **{folder.TUNER_CPU_S: tuner_cpu_s(experiment_dir, cpu_before)})
    gpus = getattr(tuner.trial_backend, "gpu_of_trial", None)
    if plan.n_gpus:  # which GPU each trial ran on (one GPU: no rotation, all on it)
        folder.update_metadata(experiment_dir, **{folder.TRIAL_GPUS: {
            str(k): v for k, v in (gpus or {}).items()} if plan.n_gpus > 1 else "all on GPU 0"})
    trial_nodes = getattr(tuner.trial_backend, "trial_nodes", None)
    if trial_nodes is not None:  # Ray: the node each trial ran on last
        folder.update_metadata(experiment_dir, **{folder.TRIAL_NODES: {str(k): v for k, v in trial_nodes.items()}})
    checkpoints = None if plan.simulated else tuner.trial_backend.checkpoint_trial_path
    folder.update_metadata(experiment_dir, **evaluate_best_on_test(plan, experiment_dir, checkpoints),
                           **{folder.FINISHED: True})
    return experiment_dir
