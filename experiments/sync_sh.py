"""Synchronous successive halving (SH) and synchronous Hyperband for Syne Tune 0.16.

Syne Tune removed its synchronous schedulers in 0.15; this is the baseline ASHA is measured
against.
"""

from __future__ import annotations

import math
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import cast_config_values, postprocess_config
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler, TrialSuggestion
from syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher import (
    LastValueMultiFidelitySearcher,
)

from experiments.tuner import NothingToStartYet


def rung_levels(grace_period: int, reduction_factor: float, max_t: int) -> list[int]:
    """Resource levels at which trials are compared, ending with max_t.

    The same levels ASHA uses for the same settings (Syne Tune's `Bracket`):
    grace_period * eta^k for k = 0, 1, ... while <= max_t, then max_t itself.
    """
    count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1)
    levels = {int(round(grace_period * reduction_factor**k)) for k in range(count)}
    return sorted({level for level in levels if level <= max_t} | {max_t})


class SynchronousSuccessiveHalving(TrialScheduler):
    """Synchronous successive halving (Jamieson and Talwalkar, 2016), and with `brackets > 1`
    synchronous Hyperband (Li et al., 2018).

    A bracket starts `n` configurations and trains each to the first rung level r_min. Only when
    *every* trial of a rung has reported at that level are the top 1/eta of them (at least one;
    ties go to the lower trial id) promoted to the next level, r_min * eta; the rest stop. The
    rungs hold n_r = ceil(n / eta^r) trials, down to max_t. While a rung is incomplete, a freed
    worker has nothing to run and waits (`suggest` raises `NothingToStartYet`, which
    `experiments.tuner.WaitingTuner` understands): the synchronisation cost that ASHA (Li et
    al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020) removes.

    Promoted trials are paused at the rung and resumed from their checkpoint, so no epoch is
    trained twice. When `max_resource_attr` is given, each run of a trial is told to stop at
    the rung level (its config entry is set to it), so it ends by itself exactly there. When a
    bracket finishes, the next starts (cycling through the brackets, i.e. new SH rounds) while
    the tuner's budget lasts. A trial that fails, or ends before reaching the level, leaves its
    rung, which completes without it.

    Args:
        config_space: Syne Tune configuration space.
        metric: reported metric to optimise; `do_minimize` says in which direction.
        time_attr: reported resource attribute, e.g. "epoch".
        max_t: resource level of a fully trained trial.
        grace_period: r_min, the first rung level.
        reduction_factor: eta.
        num_initial_trials: trials the first bracket starts (default eta^K, K the number of
            promotions, so that exactly one trial reaches max_t).
        brackets: 1 = plain SH; more = synchronous Hyperband, bracket b starting at rung b
            with Hyperband's ceil((K+1)/(K-b+1) * eta^(K-b)) trials.
        random_seed: seeds the configuration sampling (the same sequence ASHA draws).
        points_to_evaluate: configurations to start first.
        max_resource_attr: config key bounding a trial's resource (e.g. "max_epochs").

    Example::

        scheduler = SynchronousSuccessiveHalving(
            config_space, metric="validation_error", time_attr="epoch", max_t=10,
            grace_period=2, reduction_factor=2, max_resource_attr="max_epochs")
        WaitingTuner(trial_backend=backend, scheduler=scheduler, ...).run()
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        time_attr: str,
        max_t: int,
        do_minimize: bool = True,
        random_seed: int | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        num_initial_trials: int | None = None,
        brackets: int = 1,
        points_to_evaluate: list[dict] | None = None,
        max_resource_attr: str | None = None,
    ):
        super().__init__(random_seed=random_seed)
        if not 1 <= grace_period <= max_t:
            raise ValueError(f"grace_period {grace_period} must be in [1, max_t={max_t}]")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor {reduction_factor} must be at least 2")
        if num_initial_trials is not None and num_initial_trials < 1:
            raise ValueError(f"num_initial_trials {num_initial_trials} must be at least 1")
        self.config_space = config_space
        self.metric = metric
        self.time_attr = time_attr
        self.max_t = max_t
        self.do_minimize = do_minimize
        self.reduction_factor = reduction_factor
        self.max_resource_attr = max_resource_attr
        self.levels = rung_levels(grace_period, reduction_factor, max_t)
        self.num_brackets = max(1, min(brackets, len(self.levels)))
        self.num_initial_trials = num_initial_trials
        self.searcher = LastValueMultiFidelitySearcher(
            config_space=config_space,
            searcher="random_search",
            random_seed=self.random_seed,
            points_to_evaluate=points_to_evaluate,
        )
        self.configs: dict[int, dict] = {}
        self.brackets_started = 0
        self.rung_history: list[dict] = []  # one entry per completed rung
        self._start_bracket()

    # -- bracket and rung bookkeeping ---------------------------------------------------------

    def bracket_size(self, bracket: int) -> int:
        """Trials a bracket starts: n for bracket 0, Hyperband's count for the others."""
        promotions = len(self.levels) - 1 - bracket
        if bracket == 0 and self.num_initial_trials is not None:
            return self.num_initial_trials
        total = len(self.levels)
        return math.ceil(total / (promotions + 1) * self.reduction_factor**promotions)

    def _start_bracket(self):
        self.bracket = self.brackets_started % self.num_brackets
        self.brackets_started += 1
        self.rung = self.bracket  # bracket b starts at rung level b
        self.to_start = self.bracket_size(self.bracket)
        self.to_resume: list[int] = []
        self.pending: set[int] = set()  # running in this rung, level not reached yet
        self.reported: dict[int, float] = {}  # value at this rung's level

    @property
    def level(self) -> int:
        return self.levels[self.rung]

    def _rank_key(self, item: tuple[int, float]):
        trial_id, value = item
        if math.isnan(value):
            value = math.inf if self.do_minimize else -math.inf
        return (value if self.do_minimize else -value, trial_id)

    def _complete_rung_if_done(self):
        if self.pending or self.to_start or self.to_resume:
            return
        ranked = [trial_id for trial_id, _ in sorted(self.reported.items(), key=self._rank_key)]
        is_top = self.rung == len(self.levels) - 1
        promoted = [] if is_top else ranked[: math.ceil(len(ranked) / self.reduction_factor)]
        self.rung_history.append({
            "bracket_round": self.brackets_started, "bracket": self.bracket, "level": self.level,
            "trials": ranked, "promoted": promoted,
        })
        if not promoted:
            self._start_bracket()
            return
        self.rung += 1
        self.to_resume = promoted
        self.reported = {}

    def _config_for_level(self, config: dict) -> dict:
        config = dict(config)
        if self.max_resource_attr is not None:
            config[self.max_resource_attr] = self.level
        return config

    # -- TrialScheduler interface -------------------------------------------------------------

    def suggest(self) -> TrialSuggestion:
        if self.to_resume:
            trial_id = self.to_resume.pop(0)
            self.pending.add(trial_id)
            return TrialSuggestion.resume_suggestion(
                trial_id, self._config_for_level(self.configs[trial_id])
            )
        if self.to_start:
            self.to_start -= 1
            config = self.searcher.suggest()
            config = postprocess_config(cast_config_values(config, self.config_space), self.config_space)
            return TrialSuggestion.start_suggestion(self._config_for_level(config))
        raise NothingToStartYet(f"rung at {self.time_attr}={self.level} waits for {sorted(self.pending)}")

    def on_trial_add(self, trial: Trial):
        self.configs[trial.trial_id] = trial.config
        self.pending.add(trial.trial_id)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        if trial_id not in self.pending:
            return SchedulerDecision.STOP  # not part of the running rung: never resumed
        if result[self.time_attr] < self.level:
            return SchedulerDecision.CONTINUE
        self.pending.remove(trial_id)
        self.reported[trial_id] = float(result[self.metric])
        if self.level < self.max_t:
            decision = SchedulerDecision.PAUSE
        elif self.max_resource_attr is not None:
            decision = SchedulerDecision.CONTINUE  # it ends by itself at max_t
        else:
            decision = SchedulerDecision.STOP
        self._complete_rung_if_done()
        return decision

    def _leave_rung(self, trial_id: int):
        self.pending.discard(trial_id)
        if trial_id in self.to_resume:
            self.to_resume.remove(trial_id)
        self._complete_rung_if_done()

    def on_trial_error(self, trial: Trial):
        self._leave_rung(trial.trial_id)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]):
        # Ended by itself before its rung level (e.g. a diverged run): it cannot be resumed.
        self._leave_rung(trial.trial_id)

    def metric_names(self) -> list[str]:
        return [self.metric]

    def metric_mode(self) -> str:
        return "min" if self.do_minimize else "max"

    def metadata(self) -> dict[str, Any]:
        return {
            "scheduler_name": type(self).__name__,
            "metric": self.metric,
            "rung_levels": self.levels,
            "num_brackets": self.num_brackets,
            "bracket_sizes": [self.bracket_size(b) for b in range(self.num_brackets)],
            "metric_names": self.metric_names(),
            "metric_mode": self.metric_mode(),
        }
