"""Synchronous successive halving (SH) and synchronous Hyperband for Syne Tune 0.16, in the two
variants a comparison needs.

Syne Tune removed its synchronous schedulers in 0.15. `busy=True` is the one it shipped until
then (0.14.2's `SynchronousHyperbandScheduler`, "never delays scheduling of a job"): when no
slot of the current rung can start, a free worker starts a trial of the next bracket (with one
bracket kind: the next round of SH), so several rounds may be under way at once.
`busy=False` is the textbook algorithm: one round at a time, and a free worker waits while the
rung completes. Rung sizes, levels, promotions and tie-breaking are upstream's in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import cast_config_values, postprocess_config, remove_constant_and_cast
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler, TrialSuggestion
from syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher import (
    LastValueMultiFidelitySearcher,
)

from analysis import experiment_folder as folder
from experiments.compat.syne_tune import NothingToStartYet

FREE, PENDING, DONE = "free", "pending", "done"


def rung_levels(grace_period: int, reduction_factor: float, max_t: int) -> list[int]:
    """Resource levels at which trials are compared, ending with max_t.

    The same levels ASHA uses for the same settings (Syne Tune's `Bracket`):
    grace_period * eta^k for k = 0, 1, ... while <= max_t, then max_t itself.
    """
    count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1)
    levels = {int(round(grace_period * reduction_factor**k)) for k in range(count)}
    return sorted({level for level in levels if level <= max_t} | {max_t})


@dataclass
class Slot:
    trial_id: int | None  # None: a first-rung slot no trial has taken yet
    state: str = FREE  # free (to start or resume), pending (running), done (result in)
    value: float = math.nan  # the metric at the rung's level; NaN for a failed trial


@dataclass
class Bracket:
    """One bracket: rungs of decreasing size at increasing levels, filled one rung at a time.
    Only the lowest incomplete rung has slots; when all of them are done, the best of them
    fill the next rung."""

    number: int  # order of creation
    offset: int  # Hyperband's bracket kind: it starts at rung level `offset`
    rungs: list[tuple[int, int]]  # (size, level)
    rung: int = 0  # index of the current rung
    slots: list[Slot] = field(default_factory=list)

    def __post_init__(self):
        if not self.slots:
            self.slots = [Slot(None) for _ in range(self.rungs[0][0])]

    @property
    def complete(self) -> bool:
        return self.rung >= len(self.rungs)

    @property
    def level(self) -> int:
        return self.rungs[self.rung][1]

    def free_slot(self) -> int | None:
        if self.complete:
            return None
        return next((i for i, slot in enumerate(self.slots) if slot.state == FREE), None)


class SynchronousSuccessiveHalving(TrialScheduler):
    """Synchronous successive halving (Jamieson and Talwalkar, 2016), and with `brackets > 1`
    synchronous Hyperband (Li et al., 2018).

    A bracket of kind 0 starts `n` configurations and trains each to the first rung level
    r_min. Only when *every* slot of a rung has its result at that level are the top 1/eta of
    them promoted to the next level, r_min * eta; the rest stop. Rung r holds
    ceil(n / eta^r) slots, up to max_t. A failed trial keeps its slot as the worst result, so
    a rung never shrinks. At an exact tie the trial that ranked better at the previous rung
    (in the first rung: the one started first) goes on. With `brackets = B > 1`, bracket kind
    b starts at rung b with Hyperband's ceil((K+1)/(K-b+1) * eta^(K-b)) trials, and the kinds
    take turns.

    `busy=True` (upstream's 0.14 behaviour): a free worker never waits while some trial could
    start; when no bracket under way has a free slot, a new bracket starts. `busy=False`: one
    bracket at a time, and while its rung is incomplete a free worker has nothing to run
    (`suggest` raises `NothingToStartYet`, which `SchedulingTuner` understands): the
    synchronisation cost that ASHA (Li et al., MLSys 2020) removes.

    Promoted trials are paused at the rung and resumed from their checkpoint, so no epoch is
    trained twice: each run of a trial is told to stop at its rung level through the config
    entry `max_resource_attr`.

    Args:
        config_space: Syne Tune configuration space.
        metric: reported metric to optimise; `do_minimize` says in which direction.
        time_attr: reported resource attribute, e.g. "epoch".
        max_t: resource level of a fully trained trial.
        grace_period: r_min, the first rung level.
        reduction_factor: eta.
        busy: see above.
        num_initial_trials: trials a bracket of kind 0 starts (default eta^K, K the number of
            promotions, so that exactly one trial reaches max_t).
        brackets: 1 = plain SH; more = synchronous Hyperband.
        random_seed: seeds the configuration sampling (the same sequence ASHA draws).
        points_to_evaluate: configurations to start first.
        max_resource_attr: config key bounding a trial's resource (e.g. "max_resource").
        searcher: how configurations are chosen, as for Syne Tune's ASHA: a searcher name
            ("random_search", "kde", ...) or a `LastValueMultiFidelitySearcher`.

    Example::

        scheduler = SynchronousSuccessiveHalving(
            config_space, metric="validation_error", time_attr="epoch", max_t=10,
            grace_period=1, reduction_factor=3, max_resource_attr="max_resource")
        SchedulingTuner(trial_backend=backend, scheduler=scheduler, ...).run()
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        time_attr: str,
        max_t: int,
        grace_period: int = 1,
        reduction_factor: int = 3,
        do_minimize: bool = True,
        busy: bool = True,
        num_initial_trials: int | None = None,
        brackets: int = 1,
        random_seed: int | None = None,
        points_to_evaluate: list[dict] | None = None,
        max_resource_attr: str | None = None,
        searcher: str | LastValueMultiFidelitySearcher = "random_search",
    ):
        super().__init__(random_seed=random_seed)
        self.config_space = config_space
        self.metric = metric
        self.time_attr = time_attr
        self.max_t = max_t
        self.do_minimize = do_minimize
        self.busy = busy
        self.reduction_factor = reduction_factor
        self.max_resource_attr = max_resource_attr
        self.levels = rung_levels(grace_period, reduction_factor, max_t)
        self.num_brackets = max(1, min(brackets, len(self.levels)))
        self.num_initial_trials = num_initial_trials
        if isinstance(searcher, str):
            searcher = LastValueMultiFidelitySearcher(
                config_space=config_space, searcher=searcher, random_seed=self.random_seed,
                points_to_evaluate=points_to_evaluate)
        self.searcher = searcher
        self.configs: dict[int, dict] = {}
        self.brackets: list[Bracket] = []
        self.pending: dict[int, tuple[Bracket, int]] = {}  # trial_id -> its slot
        self.awaiting_id: tuple[Bracket, int] | None = None  # slot of a trial being started
        self.failed: set[int] = set()
        self.not_promoted: set[int] = set()  # paused at a complete rung and left there: ended
        self.rung_history: list[dict] = []  # one entry per completed rung
        self._new_bracket()

    # -- brackets and rungs -------------------------------------------------------------------

    def bracket_size(self, offset: int) -> int:
        """Trials a bracket of kind `offset` starts: n for kind 0, Hyperband's count otherwise."""
        promotions = len(self.levels) - 1 - offset
        if offset == 0 and self.num_initial_trials is not None:
            return self.num_initial_trials
        total = len(self.levels)
        return math.ceil(total / (promotions + 1) * self.reduction_factor**promotions)

    def _rungs(self, offset: int) -> list[tuple[int, int]]:
        first = self.bracket_size(offset)
        return [(math.ceil(first / self.reduction_factor**r), level)
                for r, level in enumerate(self.levels[offset:])]

    def _new_bracket(self) -> Bracket:
        number = len(self.brackets)
        offset = number % self.num_brackets
        bracket = Bracket(number, offset, self._rungs(offset))
        self.brackets.append(bracket)
        return bracket

    def active_brackets(self) -> list[Bracket]:
        """Brackets under way, oldest first (the textbook variant has one at most)."""
        return [b for b in self.brackets if not b.complete]

    def _rank_key(self, item: tuple[int, Slot]):
        """Sort key: valid results best first; a stable sort keeps the previous rung's order
        (the first rung: start order) among exact ties."""
        position, slot = item
        value = slot.value if self.do_minimize else -slot.value
        return (math.isnan(value), 0.0 if math.isnan(value) else value, position)

    def _complete_rungs(self, bracket: Bracket) -> None:
        """Promote from every rung whose slots are all done. A failed trial promoted for lack
        of valid ones (as upstream does) cannot run again: its new slot is done at once, as
        the worst result, and may complete that rung too."""
        while not bracket.complete and all(s.state == DONE for s in bracket.slots):
            ranked = [slot for _, slot in sorted(enumerate(bracket.slots), key=self._rank_key)]
            is_top = bracket.rung == len(bracket.rungs) - 1
            promoted = [] if is_top else [s.trial_id for s in ranked[: bracket.rungs[bracket.rung + 1][0]]]
            self.rung_history.append({
                "bracket": bracket.number, "offset": bracket.offset, "level": bracket.level,
                "trials": [s.trial_id for s in bracket.slots],
                "values": [None if math.isnan(s.value) else s.value for s in bracket.slots],
                "ranked": [s.trial_id for s in ranked], "promoted": list(promoted),
            })
            if not is_top:
                self.not_promoted.update(s.trial_id for s in ranked if s.trial_id not in promoted)
            bracket.rung += 1
            bracket.slots = [Slot(t, state=DONE) if t in self.failed else Slot(t) for t in promoted]
        if not self.busy and bracket.complete and bracket is self.brackets[-1]:
            self._new_bracket()  # the textbook variant starts the next round only now

    def _record(self, trial_id: int, value: float) -> None:
        bracket, index = self.pending.pop(trial_id)
        slot = bracket.slots[index]
        slot.state, slot.value = DONE, value
        self._complete_rungs(bracket)

    def _config_for_level(self, config: dict, level: int) -> dict:
        config = dict(config)
        if self.max_resource_attr is not None:
            config[self.max_resource_attr] = level
        return config

    # -- TrialScheduler interface -------------------------------------------------------------

    def _take_slot(self) -> tuple[Bracket, int]:
        candidates = self.active_brackets() if self.busy else self.active_brackets()[:1]
        for bracket in candidates:
            index = bracket.free_slot()
            if index is not None:
                return bracket, index
        if not self.busy:
            raise NothingToStartYet(f"the rung at {self.time_attr}={candidates[0].level} waits "
                                    f"for trials {sorted(self.pending)}")
        bracket = self._new_bracket()
        return bracket, bracket.free_slot()

    def suggest(self) -> TrialSuggestion:
        bracket, index = self._take_slot()
        slot = bracket.slots[index]
        slot.state = PENDING
        if slot.trial_id is not None:  # promoted (or interrupted): resume from its checkpoint
            self.pending[slot.trial_id] = (bracket, index)
            return TrialSuggestion.resume_suggestion(
                slot.trial_id, self._config_for_level(self.configs[slot.trial_id], bracket.level))
        config = self.searcher.suggest()
        config = postprocess_config(cast_config_values(config, self.config_space), self.config_space)
        self.awaiting_id = (bracket, index)
        return TrialSuggestion.start_suggestion(self._config_for_level(config, bracket.level))

    def on_trial_add(self, trial: Trial):
        bracket, index = self.awaiting_id
        self.awaiting_id = None
        bracket.slots[index].trial_id = trial.trial_id
        self.configs[trial.trial_id] = trial.config
        self.pending[trial.trial_id] = (bracket, index)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        if trial_id not in self.pending:
            return SchedulerDecision.STOP  # not part of a running rung: never resumed
        value = float(result[self.metric])
        config = remove_constant_and_cast(trial.config, self.config_space)
        self.searcher.on_trial_result(trial_id, config, metric=value if self.do_minimize else -value,
                                      resource_level=result[self.time_attr])
        bracket, _ = self.pending[trial_id]
        level = bracket.level
        if result[self.time_attr] < level:
            return SchedulerDecision.CONTINUE
        self._record(trial_id, value)
        if level < self.max_t:
            return SchedulerDecision.PAUSE
        if self.max_resource_attr is not None:
            return SchedulerDecision.CONTINUE  # it ends by itself at max_t
        return SchedulerDecision.STOP

    def _fail(self, trial_id: int) -> None:
        """A trial that failed, or ended before its rung level, keeps its slot as the worst."""
        if trial_id in self.pending:
            self.failed.add(trial_id)
            self._record(trial_id, math.nan)

    def on_trial_error(self, trial: Trial):
        self.searcher.on_trial_error(trial.trial_id)
        self._fail(trial.trial_id)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]):
        self._fail(trial.trial_id)  # still pending: it ended by itself before its rung level

    # -- resuming an interrupted run ----------------------------------------------------------

    def running_levels(self) -> dict[int, int]:
        """trial_id -> the rung level each running trial was heading for."""
        return {trial_id: bracket.level for trial_id, (bracket, _) in self.pending.items()}

    def requeue_running(self) -> list[int]:
        """Hand the trials that were running when the run was interrupted out again (they
        resume from their checkpoints); returns their ids."""
        requeued = sorted(self.pending)
        for trial_id in requeued:
            bracket, index = self.pending.pop(trial_id)
            bracket.slots[index].state = FREE
        return requeued

    def metric_names(self) -> list[str]:
        return [self.metric]

    def metric_mode(self) -> str:
        return "min" if self.do_minimize else "max"

    def metadata(self) -> dict[str, Any]:
        return {
            "scheduler_name": type(self).__name__,
            "metric": self.metric,
            folder.SH_BUSY: self.busy,
            folder.SH_BRACKETS: self.num_brackets,
            folder.SH_BRACKET_SIZES: [self.bracket_size(b) for b in range(self.num_brackets)],
            "metric_names": self.metric_names(),
            "metric_mode": self.metric_mode(),
        }
