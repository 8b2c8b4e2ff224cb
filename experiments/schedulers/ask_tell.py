"""What the suite's wrappers of other libraries' ask-and-tell optimisers (Optuna's study,
SMAC3's facade) share as Syne Tune schedulers: the metric and its direction, the count of
where each new configuration came from, reading a running trial's report (`reported_value`: a
diverged one ends the trial), and telling the library about trials that failed, were removed,
or were killed by an interruption.

A subclass implements `suggest`, `on_trial_add`, `on_trial_result`, `on_trial_complete` and
`end_trial(trial_id, how)`, which tells the library that a running trial ended ("failed",
"diverged", ...) and forgets it; a trial told already is ignored.

`ResumingAskTellScheduler` is what SMAC's and DEHB's schedulers share: each evaluates a
configuration at a budget (a fidelity), which becomes the trial's resource bound; the trial is
paused there, and resumed from its checkpoint when the library asks for the same configuration
at a higher budget. `configuration_space`, `epochs`, `epoch_levels` and `scratch_folder` serve
both as well.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import (Categorical, Domain, FiniteRange, Float, Integer, cast_config_values,
                                    is_log_space, is_uniform_space, postprocess_config)
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler, TrialSuggestion

from experiments.schedulers.divergence import is_finite_number


class AskTellScheduler(TrialScheduler):
    def __init__(self, config_space: dict[str, Any], metric: str, time_attr: str, do_minimize: bool,
                 seed: int, sources: tuple[str, ...]):
        super().__init__(random_seed=seed)
        self.config_space = config_space
        self.metric = metric
        self.time_attr = time_attr
        self.do_minimize = do_minimize
        self.running: dict[int, Any] = {}  # Syne Tune trial id -> the library's handle, until told
        self.suggestions: Counter = Counter(dict.fromkeys(sources, 0))  # new configurations by source

    def end_trial(self, trial_id: int, how: str) -> None:
        raise NotImplementedError

    def searched_values(self, point: dict, names) -> dict:
        """A configuration's values of the searched `names`, as Syne Tune types them."""
        return cast_config_values({k: v for k, v in point.items() if k in names}, self.config_space)

    def trial_config(self, values: dict) -> dict:
        """A new trial's config from the library's values: Syne Tune's types, plus the space's
        constants (the per-run resource bound among them)."""
        return postprocess_config(cast_config_values(values, self.config_space), self.config_space)

    def reported_value(self, trial: Trial, result: dict[str, Any]) -> float | None:
        """The metric a running trial reported; None (stop the trial) for a report in flight
        after the library was told, and for a diverged one (NaN or infinite), which ends the
        trial as "diverged"."""
        if trial.trial_id not in self.running:
            return None
        value = result.get(self.metric)
        if not is_finite_number(value):
            self.end_trial(trial.trial_id, "diverged")
            return None
        return float(value)

    def on_trial_error(self, trial: Trial):
        self.end_trial(trial.trial_id, "failed")

    def on_trial_remove(self, trial: Trial):
        self.end_trial(trial.trial_id, "failed")

    def end_running(self) -> list[int]:
        """Tell the library that the trials an interruption killed failed (a resumed run starts
        new ones; left running, the library would wait for them, or hold them against their
        configurations, for good); returns their ids."""
        ended = sorted(self.running)
        for trial_id in ended:
            self.end_trial(trial_id, "failed")
        return ended

    def suggestion_counts(self) -> dict[str, int]:
        return {**self.suggestions, "total": sum(self.suggestions.values())}

    def metric_names(self) -> list[str]:
        return [self.metric]

    def metric_mode(self) -> str:
        return "min" if self.do_minimize else "max"

    def metadata(self) -> dict[str, Any]:
        return {"scheduler_name": type(self).__name__, "metric": self.metric,
                "metric_names": self.metric_names(), "metric_mode": self.metric_mode()}


def epochs(budget: float, max_t: int) -> int:
    """A library's budget (a float, max_t * eta^-k) as whole epochs: the nearest, halves up."""
    return min(max_t, max(1, int(math.floor(budget + 0.5))))


def epoch_levels(max_t: int, reduction_factor: int, count: int) -> list[int]:
    """The budgets max_t * eta^-k for k = 0 .. count - 1 as epochs (`epochs`), lowest first
    (the libraries count their budgets down from max_t; the suite's rungs count up from the
    grace period)."""
    return sorted({epochs(max_t * reduction_factor ** -k, max_t) for k in range(count)})


def configuration_space(config_space: dict[str, Any], seed: int):
    """The ConfigSpace counterpart of the searched entries of a Syne Tune space (bounds
    included in both); constants are left to `postprocess_config`. (ConfigSpace comes with
    SMAC and DEHB, the [peers] extra.)"""
    from ConfigSpace import Categorical as CSCategorical
    from ConfigSpace import ConfigurationSpace
    from ConfigSpace import Float as CSFloat
    from ConfigSpace import Integer as CSInteger

    space = ConfigurationSpace(seed=seed)
    for name, domain in config_space.items():
        if not isinstance(domain, Domain):
            continue
        if isinstance(domain, FiniteRange):
            space.add(CSCategorical(name, list(domain.values)))
        elif isinstance(domain, Categorical):
            space.add(CSCategorical(name, list(domain.categories)))
        elif isinstance(domain, (Integer, Float)) and (is_log_space(domain) or is_uniform_space(domain)):
            kind = CSInteger if isinstance(domain, Integer) else CSFloat
            space.add(kind(name, (domain.lower, domain.upper), log=is_log_space(domain)))
        else:
            raise ValueError(f"search space entry {name!r}: {domain} has no ConfigSpace counterpart here; "
                             f"use choice, randint, lograndint, uniform, loguniform or finrange")
    return space


# SMAC and DEHB write their state and logs into a folder; the run's own records are the
# experiment folder's, so theirs is scratch, removed when the process exits.
_SCRATCH_FOLDERS: list[tempfile.TemporaryDirectory] = []


def scratch_folder(prefix: str) -> str:
    folder = tempfile.TemporaryDirectory(prefix=prefix)
    _SCRATCH_FOLDERS.append(folder)
    return folder.name


def config_key(values: dict) -> tuple:
    return tuple(sorted(values.items()))


class ResumingAskTellScheduler(AskTellScheduler):
    """A scheduler for a library that evaluates a configuration at a budget: each of its asks
    is a job (configuration, budget), kept in `asked` by index. The budget, in epochs, becomes
    the trial's resource bound (config key `max_resource_attr`); at its report there the
    library is told the loss (the metric, negated when maximised) and the trial is paused. A
    job for a configuration whose trial is paused at a lower budget resumes that trial from its
    checkpoint up to the new bound (no epoch is trained twice); any other job starts a new
    trial.

    A subclass implements `_ask_library` (the index of the next job, None when the library has
    none), `_tell_library(index, loss)` (loss None: the evaluation failed or diverged, told as
    the library's worst), and `budget`, `values` and `source` of a job.

    Counts: `suggestions` (new trials by where their configuration came from), `evaluations`
    (what the library was told, per budget in epochs and how: success, diverged, failed),
    and the trials started and resumed per budget.
    """

    def __init__(self, config_space: dict[str, Any], metric: str, time_attr: str, do_minimize: bool,
                 seed: int, sources: tuple[str, ...], max_resource_attr: str, max_t: int):
        super().__init__(config_space, metric, time_attr, do_minimize, seed, sources)
        self.max_resource_attr = max_resource_attr
        self.max_t = max_t
        self.awaiting: int | None = None  # the job of a trial being started
        self.paused: dict[tuple, tuple[int, int]] = {}  # configuration -> (its paused trial, its budget)
        self.dead: set[tuple] = set()  # configurations whose trial failed or diverged
        self.configs: dict[int, dict] = {}  # Syne Tune trial id -> its config
        self.started: Counter = Counter()  # budget -> new trials
        self.resumed: Counter = Counter()  # budget -> paused trials resumed up to it
        self.evaluations: Counter = Counter()  # (budget, how) -> count

    def _ask_library(self) -> int | None:
        raise NotImplementedError

    def _tell_library(self, index: int, loss: float | None) -> None:
        raise NotImplementedError

    def budget(self, index: int) -> int:
        """The job's budget in epochs."""
        raise NotImplementedError

    def values(self, index: int) -> dict:
        """The job's configuration: the searched hyperparameters' values."""
        raise NotImplementedError

    def source(self, index: int) -> str:
        """Where the job's configuration came from (a key of `suggestions`)."""
        raise NotImplementedError

    def key(self, index: int) -> tuple:
        return config_key(self.values(index))

    def _tell(self, index: int, how: str, loss: float | None = None) -> None:
        self._tell_library(index, loss if how == "success" else None)
        self.evaluations[(self.budget(index), how)] += 1

    def _next_runnable(self) -> int | None:
        """The next job a trial can run: a configuration whose trial failed or diverged cannot;
        asked for anyway (promoted for lack of others), it is told failed again at once, as the
        worst. None: the library has nothing more to give."""
        while True:
            index = self._ask_library()
            if index is None or self.key(index) not in self.dead:
                return index
            self._tell(index, "failed")

    def _paused_below(self, index: int) -> int | None:
        """The paused trial of the job's configuration, if it was paused below the job's budget
        (forgotten as paused: it resumes)."""
        trial_id, level = self.paused.get(self.key(index), (None, self.max_t))
        if trial_id is None or level >= self.budget(index):
            return None
        del self.paused[self.key(index)]
        return trial_id

    def suggest(self) -> TrialSuggestion | None:
        index = self._next_runnable()
        if index is None:
            return None
        bound = {self.max_resource_attr: self.budget(index)}
        trial_id = self._paused_below(index)
        if trial_id is not None:  # promoted: resume its trial from the checkpoint, up to the new budget
            self.running[trial_id] = index
            self.resumed[self.budget(index)] += 1
            return TrialSuggestion.resume_suggestion(trial_id, {**self.configs[trial_id], **bound})
        self.suggestions[self.source(index)] += 1
        self.started[self.budget(index)] += 1
        self.awaiting = index
        return TrialSuggestion.start_suggestion({**self.trial_config(self.values(index)), **bound})

    def on_trial_add(self, trial: Trial):
        self.running[trial.trial_id] = self.awaiting
        self.configs[trial.trial_id] = dict(trial.config)
        self.awaiting = None

    def end_trial(self, trial_id: int, how: str) -> None:
        index = self.running.pop(trial_id, None)
        if index is not None:
            self.dead.add(self.key(index))
            self._tell(index, how)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        value = self.reported_value(trial, result)
        if value is None:
            return SchedulerDecision.STOP
        index = self.running[trial.trial_id]
        level = self.budget(index)
        if int(result[self.time_attr]) < level:
            return SchedulerDecision.CONTINUE
        del self.running[trial.trial_id]
        self._tell(index, "success", value if self.do_minimize else -value)
        if level >= self.max_t:
            return SchedulerDecision.CONTINUE  # it ends by itself at max_t
        self.paused[self.key(index)] = (trial.trial_id, level)
        return SchedulerDecision.PAUSE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]):
        self.end_trial(trial.trial_id, "failed")  # still running: it ended before its budget

    def evaluation_counts(self) -> dict[str, Any]:
        by_budget: Counter = Counter()
        how: Counter = Counter()
        for (level, outcome), count in self.evaluations.items():
            by_budget[level] += count
            how[outcome] += count

        def by_level(counts: Counter) -> dict[str, int]:
            return {str(k): v for k, v in sorted(counts.items())}

        return {"total": sum(by_budget.values()), "by_budget": by_level(by_budget), "by_outcome": dict(how),
                "resumed": sum(self.resumed.values()), "new_trials_by_budget": by_level(self.started),
                "resumed_by_budget": by_level(self.resumed)}
