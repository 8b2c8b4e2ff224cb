"""Optuna's multi-fidelity recipe as a Syne Tune scheduler: a `TPESampler` chooses each new
configuration and a pruner (Hyperband, asynchronous successive halving or the median rule)
stops trials early, driven through Optuna's public ask-and-tell API, so a comparison can put
Optuna next to the suite's own methods on the same backends, seeds and budgets.

The scheduler makes the calls Optuna's documented objective makes, in the same order:
`ask` for a configuration, `report(value, step)` then `should_prune()` at every result, and
`tell` when the trial ends (COMPLETE with its last value, PRUNED, or FAIL). Started trials
are never paused: a trial runs until the pruner stops it or it reaches max_t, as in Optuna
(tests/test_optuna_peers.py checks the decisions against `study.optimize` itself).

The step Optuna sees is the suite's resource (epoch 1, 2, ...), not Optuna's zero-based
count, so the successive-halving rungs `min_resource * eta^k` fall on the suite's rung levels
(the grace period times powers of the reduction factor), where ASHA compares its trials.

A diverged result (NaN or infinite, schedulers/divergence.py) stops its trial, which is told
FAIL without the value: TPE then leaves it out, as the suite's searchers drop a diverged
trial, and Optuna's own pruners would prune at a NaN anyway (an infinite value of a maximised
metric would instead rank first in Optuna's rungs).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import Categorical, Domain, FiniteRange, Float, Integer, is_log_space, is_uniform_space
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialSuggestion

from experiments.compat.syne_tune_searchers import MODEL, POINTS_TO_EVALUATE, WARMUP
from experiments.schedulers.ask_tell import AskTellScheduler
from experiments.schedulers.divergence import is_finite_number

PRUNERS = ("hyperband", "sha", "median")

# Optuna logs every finished trial at INFO; a study of thousands of runs stays quiet.
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class OptunaSettings:
    """Optuna's documented multi-fidelity settings, mapped onto the suite's rung settings.

    - TPESampler(seed): Optuna's defaults otherwise. n_startup_trials=10 random trials first;
      multivariate TPE (one joint density, Optuna 5.0's default for one objective: the docs
      report it beats independent TPE, and hyperparameters such as learning rate and batch
      size interact); constant liar (5.0's default: a running trial counts as a bad result,
      so parallel workers are not all sent to the same spot).
    - HyperbandPruner and SuccessiveHalvingPruner: min_resource = grace period,
      reduction_factor = the run's, min_early_stopping_rate = 0 (SH's first rung at the grace
      period), Hyperband's max_resource = max_t (not "auto", which prunes nothing until a
      trial has completed).
    - MedianPruner(n_startup_trials=5): Optuna's defaults, but n_warmup_steps = the grace
      period. Optuna counts steps from 0 and the docs' examples set n_warmup_steps to the
      steps to wait; steps here are the resource, from 1, so with n_warmup_steps = grace
      period the first decision falls at the grace period, where the other methods decide
      first (Optuna's zero-based `grace_period - 1`).
    """

    pruner: str
    grace_period: int
    reduction_factor: int
    max_t: int
    seed: int
    study_name: str
    n_startup_trials: int = 10  # TPESampler's default
    multivariate: bool = True
    constant_liar: bool = True
    median_startup_trials: int = 5  # MedianPruner's default

    def make_sampler(self) -> optuna.samplers.TPESampler:
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials,
                                          multivariate=self.multivariate, constant_liar=self.constant_liar)

    def make_pruner(self) -> optuna.pruners.BasePruner:
        if self.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=self.grace_period, max_resource=self.max_t,
                                                  reduction_factor=self.reduction_factor)
        if self.pruner == "sha":
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.grace_period,
                                                          reduction_factor=self.reduction_factor,
                                                          min_early_stopping_rate=0)
        if self.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=self.median_startup_trials,
                                               n_warmup_steps=self.grace_period)
        raise ValueError(f"unknown pruner {self.pruner!r}: one of {PRUNERS}")

    def hyperband_brackets(self) -> int | None:
        """How many brackets HyperbandPruner makes (its own formula, which can differ by one
        from the suite's count of rung levels when max_t is no power of eta times r_min)."""
        if self.pruner != "hyperband":
            return None
        return math.floor(math.log(self.max_t / self.grace_period, self.reduction_factor)) + 1

    def record(self) -> dict:
        return {**asdict(self), "optuna_version": optuna.__version__,
                "hyperband_brackets": self.hyperband_brackets()}


def optuna_distribution(name: str, domain: Domain) -> BaseDistribution:
    """The Optuna distribution of one Syne Tune domain (both include their upper bounds)."""
    if isinstance(domain, FiniteRange):  # its values, unordered (TPE sees no grid order)
        return CategoricalDistribution(list(domain.values))
    if isinstance(domain, Categorical):  # ordinal domains too: TPE treats them as unordered
        return CategoricalDistribution(list(domain.categories))
    if isinstance(domain, (Integer, Float)) and (is_log_space(domain) or is_uniform_space(domain)):
        kind = IntDistribution if isinstance(domain, Integer) else FloatDistribution
        return kind(domain.lower, domain.upper, log=is_log_space(domain))
    raise ValueError(f"search space entry {name!r}: {domain} has no Optuna counterpart here; use "
                     f"choice, randint, lograndint, uniform, loguniform or finrange")


def optuna_distributions(config_space: dict[str, Any]) -> dict[str, BaseDistribution]:
    """The searched entries of a Syne Tune space; constants are left to `postprocess_config`."""
    return {name: optuna_distribution(name, domain) for name, domain in config_space.items()
            if isinstance(domain, Domain)}


class OptunaScheduler(AskTellScheduler):
    """A Syne Tune scheduler that asks an `optuna.Study` (TPE with a pruner) for each new trial
    and lets the pruner decide, at every result, whether the trial goes on.

    Args:
        config_space: Syne Tune configuration space; its constants (e.g. the per-run resource
            bound) pass through to every trial's config unchanged.
        metric, do_minimize: the metric and its direction (the study's).
        time_attr: the reported resource, Optuna's step.
        settings: the sampler's and pruner's settings (`OptunaSettings`).
        points_to_evaluate: configurations to run first (Optuna's `enqueue_trial`).

    Counts of what it did: `suggestions` (by source: points_to_evaluate, warmup = TPE's random
    start-up, model = TPE's densities) and `decisions` (reports checked and trials pruned, per
    step), which the run's metadata keeps (`scheduler_record`).
    """

    def __init__(self, config_space: dict[str, Any], metric: str, time_attr: str, settings: OptunaSettings,
                 do_minimize: bool = True, points_to_evaluate: list[dict] | None = None):
        super().__init__(config_space, metric, time_attr, do_minimize, settings.seed,
                         sources=(POINTS_TO_EVALUATE, WARMUP, MODEL))
        self.settings = settings
        self.distributions = optuna_distributions(config_space)
        # A fixed study name: HyperbandPruner assigns a trial's bracket by a hash of the study
        # name and the trial's number, so an unnamed (random) study would not repeat its run.
        self.study = optuna.create_study(study_name=settings.study_name, sampler=settings.make_sampler(),
                                         pruner=settings.make_pruner(),
                                         direction="minimize" if do_minimize else "maximize")
        self.queued = 0
        for point in points_to_evaluate or []:
            self.study.enqueue_trial(self.searched_values(point, self.distributions))
            self.queued += 1
        self.awaiting: optuna.Trial | None = None  # asked, its Syne Tune trial not added yet
        self.checked: Counter = Counter()  # step -> reports the pruner judged
        self.pruned: Counter = Counter()  # step -> trials pruned there
        self.ended: Counter = Counter()  # how trials were told: complete, pruned, failed, diverged

    # -- where a suggestion comes from --------------------------------------------------------

    def next_source(self) -> str:
        """Where the next `ask` takes its configuration from, decided as Optuna decides: the
        queue of enqueued points first; then TPESampler samples at random while fewer than
        n_startup_trials trials are COMPLETE or PRUNED (failed and running ones do not count),
        and from its densities after."""
        if self.queued:
            return POINTS_TO_EVALUATE
        finished = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        return WARMUP if len(finished) < self.settings.n_startup_trials else MODEL

    # -- TrialScheduler interface -------------------------------------------------------------

    def suggest(self) -> TrialSuggestion:
        source = self.next_source()
        self.awaiting = self.study.ask(self.distributions)
        self.suggestions[source] += 1
        if source == POINTS_TO_EVALUATE:
            self.queued -= 1
        config = self.trial_config(self.awaiting.params)
        return TrialSuggestion.start_suggestion(config)

    def on_trial_add(self, trial: Trial):
        self.running[trial.trial_id] = self.awaiting
        self.awaiting = None

    def end_trial(self, trial_id: int, how: str, value: float | None = None) -> None:
        optuna_trial = self.running.pop(trial_id, None)
        if optuna_trial is None:
            return  # told already (pruned, or ended twice)
        self.ended[how] += 1
        if how == "complete":
            self.study.tell(optuna_trial, value)
        else:  # a pruned trial's value is its last report, as in study.optimize
            self.study.tell(optuna_trial, state=TrialState.PRUNED if how == "pruned" else TrialState.FAIL)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        value = self.reported_value(trial, result)
        if value is None:
            return SchedulerDecision.STOP
        optuna_trial = self.running[trial.trial_id]
        step = int(result[self.time_attr])
        optuna_trial.report(value, step)
        self.checked[step] += 1
        if optuna_trial.should_prune():
            self.pruned[step] += 1
            self.end_trial(trial.trial_id, "pruned")
            return SchedulerDecision.STOP
        return SchedulerDecision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]):
        value = result.get(self.metric)
        if is_finite_number(value):
            self.end_trial(trial.trial_id, "complete", float(value))
        else:
            self.end_trial(trial.trial_id, "diverged")

    # -- what the run records -----------------------------------------------------------------

    def decision_counts(self) -> dict[str, Any]:
        return {"reports_checked": sum(self.checked.values()), "pruned": sum(self.pruned.values()),
                "checked_by_step": {str(k): v for k, v in sorted(self.checked.items())},
                "pruned_by_step": {str(k): v for k, v in sorted(self.pruned.items())},
                "trials_ended": dict(self.ended)}
