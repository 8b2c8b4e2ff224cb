"""Assemble a run from its plan: the search space, the trial backend, the scheduler and the
tuner with the suite's callbacks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from syne_tune import StoppingCriterion
from syne_tune.config_space import choice

from experiments.compat.syne_tune import SchedulingTuner
from experiments.schedulers import METHODS, SchedulerArgs
from experiments.schedulers.sync_sh import rung_levels
from experiments.tuning.callbacks import (
    BracketRecord,
    PausedForGood,
    ProgressPrinter,
    SimulatedResults,
    StopAtMissingMetric,
    StoreResults,
    WorkerTimeline,
    console_logger,
)
from experiments.tuning.plan import RunPlan
from experiments.tuning.provenance import metadata_of
from objectives.syne_tune_code import is_code_spec
from objectives.tables import recorded_configurations
from objectives.trial import RESOURCE_BOUND, TrialSettings, trial_entry_point

# Seconds the tuner sleeps when every worker is busy. Syne Tune's default (5 s) leaves a freed
# worker idle for up to 5 s and lands STOP decisions late; polling the trials' output files
# 5 times a second costs the tuner a few percent of one core.
TUNER_SLEEP_S = 0.2


def search_space_of(plan: RunPlan) -> dict:
    """What the scheduler searches: the objective's space, or the recorded configurations."""
    if plan.search_space == "recorded":
        if plan.simulated:  # the complete recordings only
            from experiments.backends.simulated import recorded_search_space

            return recorded_search_space(plan.simulation.table)
        return {"config_id": choice(sorted(recorded_configurations(plan.objective.name)))}
    return dict(plan.objective.search_space)


def hyperparameter_names(plan: RunPlan) -> list[str]:
    """The names the scheduler searches over (constants of the search space left out)."""
    from syne_tune.config_space import Domain

    return [name for name, domain in search_space_of(plan).items() if isinstance(domain, Domain)]


def scheduler_space(plan: RunPlan) -> dict:
    """The search space plus the per-run resource bound (a constant the synchronous schedulers
    lower to each rung level)."""
    return {**search_space_of(plan), RESOURCE_BOUND: plan.max_resource}


def trial_settings(plan: RunPlan) -> TrialSettings:
    return TrialSettings(objective=plan.objective_spec, data=plan.data,
                         max_resource=plan.max_resource, threads=plan.threads_per_trial,
                         seed=plan.seed)


def make_backend(plan: RunPlan, config_space: dict):
    # Present as a key, so PythonBackend passes each trial its checkpoint folder (the value is
    # replaced by the real path).
    backend_space = {**config_space, "st_checkpoint_dir": "unused"}
    if plan.simulated:
        from experiments.backends import simulated

        blackbox = simulated.served_blackbox(plan.objective_spec, recorded=plan.search_space == "recorded")
        return simulated.make_backend(blackbox, plan.simulation.startup_s, poll_s=TUNER_SLEEP_S)
    if plan.backend == "ray":
        from experiments.backends.ray_tasks import RayTrialBackend

        return RayTrialBackend(trial_entry_point, backend_space, plan.trial_resources,
                               address=plan.request.ray_address, checkpoint_root=plan.checkpoint_root,
                               settings=trial_settings(plan))
    # rotate_gpus gives each trial its own GPU (the least busy one); without GPUs skip the probe
    rotate_gpus = plan.n_gpus > 0
    if plan.backend == "warm":
        from experiments.backends.warm import WarmBackend

        return WarmBackend(trial_entry_point, backend_space, trial_settings(plan), rotate_gpus=rotate_gpus)
    from experiments.backends.python import NewProcessBackend

    return NewProcessBackend(trial_entry_point, backend_space, trial_settings(plan), rotate_gpus=rotate_gpus)


def first_configurations(plan: RunPlan) -> list[dict]:
    """What a run evaluates before it samples: the objective's default configuration, where it
    has one, the run searches its full space and the plan asks for it (studies do not). Every
    tuner takes its first configurations from here, Ray Tune's included, so paired runs of
    different methods start alike."""
    objective = plan.objective
    if objective.default_config and plan.search_space == "full" and plan.default_first:
        return [dict(objective.default_config)]
    return []


def make_scheduler(plan: RunPlan, config_space: dict):
    objective = plan.objective
    return METHODS[plan.method].build(SchedulerArgs(
        config_space=config_space,
        metric=objective.metric,
        do_minimize=objective.mode == "min",
        resource_attr=objective.resource_attr,
        max_t=plan.max_resource,
        grace_period=plan.grace_period,
        reduction_factor=plan.reduction_factor,
        seed=plan.seed,
        points_to_evaluate=first_configurations(plan),
        max_resource_attr=RESOURCE_BOUND,
        brackets=plan.brackets,
        n_workers=plan.n_workers,
    ))


def make_tuner(backend, scheduler, scheduler_name: str, *, n_workers: int, stop_criterion,
               max_failures: int, name: str, metadata: dict, max_t: int, results_dir: Path,
               metric: str = "validation_error", mode: str = "min", resource_attr: str = "epoch",
               hyperparameters: set[str] | None = None, print_update_interval: float = 30.0,
               simulated: bool = False, sleep_s: float = TUNER_SLEEP_S, timestamp_name: bool = True,
               stop_at_missing_metric: bool = False):
    """The one way the suite builds a tuner, whatever the objective: fast polling, results,
    worker timeline and progress lines (simulated: Syne Tune's simulator clock, and quiet);
    `stop_at_missing_metric` for Syne Tune code, whose metric names come from flags."""
    if simulated:
        callbacks = [SimulatedResults(hyperparameters), WorkerTimeline(), BracketRecord(), PausedForGood()]
    else:
        callbacks = [StoreResults(hyperparameters), WorkerTimeline(), BracketRecord(), PausedForGood(),
                     ProgressPrinter(metric, mode, resource_attr, max_t, scheduler_name)]
    if stop_at_missing_metric:
        callbacks.append(StopAtMissingMetric())
    return SchedulingTuner(
        results_dir=results_dir,
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=stop_criterion,
        n_workers=n_workers,
        sleep_time=0 if simulated else sleep_s,  # the simulator advances its own clock
        max_failures=max_failures,
        tuner_name=name,
        suffix_tuner_name=timestamp_name,
        metadata=metadata,
        callbacks=callbacks,
        print_update_interval=print_update_interval,
        output_logger=console_logger(hyperparameters or set(), quiet=simulated),
        # pickling the tuner (for --resume) costs more than a whole simulated run
        save_tuner=not simulated,
    )


def rung_levels_of(plan: RunPlan) -> list[int] | None:
    """The resource levels at which the method compares trials; None for methods without rungs."""
    spec = METHODS[plan.method]
    if not spec.rungs:
        return None
    if spec.family == "smac":  # SMAC's budgets: max_t * eta^-k, rounded to epochs
        from experiments.schedulers.smac_peer import budget_levels

        return budget_levels(plan.grace_period, plan.reduction_factor, plan.max_resource)
    if spec.family == "dehb":  # DEHB's fidelities: max_t * eta^-k, rounded to epochs
        from experiments.schedulers.dehb_peer import fidelity_levels

        return fidelity_levels(plan.grace_period, plan.reduction_factor, plan.max_resource)
    levels = rung_levels(plan.grace_period, plan.reduction_factor, plan.max_resource)
    if spec.family == "optuna":  # Optuna's pruners compare at r_min * eta^k only, not at a max_t between
        levels = [level for level in levels
                  if any(level == plan.grace_period * plan.reduction_factor**k for k in range(len(levels)))]
    return levels


def stopping_criterion(plan: RunPlan) -> StoppingCriterion:
    """The run's limits, whichever is reached first: wall-clock seconds, results reported,
    trials ended, and where a run only has to reach a value (time-to-target studies), that
    value. Syne Tune's criteria are strict (stop once a count is *above* its limit), hence the
    -1: a limit of N ends the run at the N-th result or ended trial."""
    limits: dict = {
        # no wall-clock limit is an infinite one: Syne Tune's simulator expects one to replace
        "max_wallclock_time": math.inf if plan.budget_s is None else plan.budget_s,
        "max_num_evaluations": None if plan.max_results is None else plan.max_results - 1,
        "max_num_trials_finished": None if plan.max_trials is None else plan.max_trials - 1,
    }
    if plan.stop_at is not None:
        beyond = {plan.objective.metric: plan.stop_at}
        limits["min_metric_value" if plan.objective.mode == "min" else "max_metric_value"] = beyond
    return StoppingCriterion(**limits)


def build_tuner(plan: RunPlan):
    # Syne Tune 0.16's ASHA draws its brackets, and its stock random searcher its
    # configurations, from numpy's global generator, not from their random_seed: seeded here,
    # a run is the same whatever ran before it in this process (a comparison runs many).
    np.random.seed(plan.seed)
    config_space = scheduler_space(plan)
    scheduler = make_scheduler(plan, config_space)
    return make_tuner(
        make_backend(plan, config_space), scheduler, plan.method,
        n_workers=plan.n_workers,
        stop_criterion=stopping_criterion(plan),
        max_failures=plan.max_failures,
        name=plan.experiment_name,
        metadata=metadata_of(plan, rung_levels_of(plan), hyperparameter_names(plan)),
        max_t=plan.max_resource,
        results_dir=plan.results_dir,
        metric=plan.objective.metric,
        mode=plan.objective.mode,
        resource_attr=plan.objective.resource_attr,
        hyperparameters=set(hyperparameter_names(plan)),
        print_update_interval=max(30.0, (plan.budget_s or 0) / 10),
        simulated=plan.simulated,
        timestamp_name=plan.timestamp_name,
        stop_at_missing_metric=is_code_spec(plan.objective_spec),
    )
