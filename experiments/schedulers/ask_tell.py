"""What the suite's wrappers of other libraries' ask-and-tell optimisers (Optuna's study,
SMAC3's facade) share as Syne Tune schedulers: the metric and its direction, the count of
where each new configuration came from, and telling the library about trials that failed,
were removed, or were killed by an interruption.

A subclass implements `suggest`, `on_trial_add`, `on_trial_result`, `on_trial_complete` and
`end_trial(trial_id, how)`, which tells the library that a running trial ended ("failed",
"diverged", ...) and forgets it; a trial told already is ignored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import cast_config_values, postprocess_config
from syne_tune.optimizer.scheduler import TrialScheduler


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
