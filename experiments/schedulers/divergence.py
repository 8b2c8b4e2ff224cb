"""A diverged trial (a NaN or infinite metric: a learning rate too high, say) is the worst
result there is, in every scheduler.

Left to themselves, Syne Tune's ASHA and Ray Tune's promote such a trial: NaN compares false
with everything, so it never ranks below the rung's cut-off (measured: 54 of 71 NaN trials
trained to the maximum resource although every finite result at their rung was better), and
an infinite value of a maximised metric ranks first. Here, whatever the method:

- the trial is stopped at its first non-finite report (no later rung could promote it, and
  training a diverged model further only spends budget);
- the scheduler counts it as the worst result where it keeps rungs: synchronous SH gives it
  the worst slot of its rung (its rule for a failed trial), ASHA records it below every value
  at the rung it reached, so that it still counts among the trials the top 1/eta is taken from;
- the searcher never sees the value: the scheduler is told the trial failed
  (`on_trial_error`), as for a crash, so a model-based searcher drops it instead of fitting
  NaN.

`MethodSpec.build` makes every Syne Tune scheduler of the suite through a class below; a new
scheduler class gets the same treatment by mixing `StopsDiverged` in before it.
"""

from __future__ import annotations

import math
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.scheduler import SchedulerDecision
from syne_tune.optimizer.schedulers.asha import AsynchronousSuccessiveHalving

from experiments.schedulers.sync_sh import SynchronousSuccessiveHalving


def is_finite_number(value) -> bool:
    """A real number that is neither NaN nor infinite (a bool or a string is no metric)."""
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except TypeError:
        return False


class StopsDiverged:
    """Mixed in before a Syne Tune scheduler class (with `metric` and `time_attr` attributes):
    a result whose metric is not a finite number stops its trial and counts as the worst. (A
    result without the metric goes on to the scheduler: the suite's trials never report one,
    see `objectives.trial`.)"""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        if self.metric not in result or is_finite_number(result[self.metric]):
            return super().on_trial_result(trial, result)
        self.record_worst(trial, result)
        return SchedulerDecision.STOP

    def record_worst(self, trial: Trial, result: dict[str, Any]) -> None:
        """Count the trial as the worst result where this scheduler ranks trials, and as failed
        for its searcher."""
        self.on_trial_error(trial)


class DivergenceAwareASHA(StopsDiverged, AsynchronousSuccessiveHalving):
    """Syne Tune's ASHA (and asynchronous Hyperband, and random search as ASHA with its only
    rung at max_t)."""

    def record_worst(self, trial: Trial, result: dict[str, Any]) -> None:
        bracket = self.trial_info.get(trial.trial_id)
        level = result.get(self.time_attr)
        if bracket is not None and level is not None:
            # ASHA ranks internally by metric * (1 if minimising else -1): +inf is the worst.
            # Recorded at the rung the trial reached, if any; the decision does not matter.
            bracket.on_result(trial_id=trial.trial_id, cur_iter=level, metrics={self.metric: math.inf})
        # the searcher's side of ASHA's on_trial_error, without its "Evaluation failed!" warning
        self.searcher.on_trial_error(trial.trial_id)


class DivergenceAwareSH(StopsDiverged, SynchronousSuccessiveHalving):
    """The suite's synchronous SH and Hyperband: the failed-trial rule already keeps the slot as
    the rung's worst result."""
