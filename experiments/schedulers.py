"""Registry of schedulers the launchers accept by name.

Each entry builds a Syne Tune scheduler from one `SchedulerArgs`; adding a scheduler to the
suite is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class SchedulerArgs:
    config_space: dict[str, Any]
    metric: str
    do_minimize: bool
    resource_attr: str  # the reported fidelity, e.g. "epoch"
    max_t: int
    grace_period: int
    reduction_factor: int
    seed: int
    points_to_evaluate: list[dict]
    max_resource_attr: str  # config key bounding a trial's epochs
    brackets: int = 1

    def successive_halving_kwargs(self) -> dict[str, Any]:
        """The arguments ASHA and synchronous SH share, under Syne Tune's names."""
        return {
            "metric": self.metric,
            "time_attr": self.resource_attr,
            "max_t": self.max_t,
            "do_minimize": self.do_minimize,
            "random_seed": self.seed,
            "grace_period": self.grace_period,
            "reduction_factor": self.reduction_factor,
            "brackets": self.brackets,
            "points_to_evaluate": self.points_to_evaluate,
        }


def build_asha(a: SchedulerArgs):
    from syne_tune.optimizer.baselines import ASHA

    return ASHA(a.config_space, **a.successive_halving_kwargs())


def build_sync_sh(a: SchedulerArgs):
    from experiments.sync_sh import SynchronousSuccessiveHalving

    return SynchronousSuccessiveHalving(
        a.config_space, max_resource_attr=a.max_resource_attr, **a.successive_halving_kwargs()
    )


def build_random_search(a: SchedulerArgs):
    """Every trial trained to max_t: ASHA with its only rung at max_t, so the configurations
    are drawn by the same seeded sampler as ASHA's and SH's."""
    from syne_tune.optimizer.baselines import ASHA

    kwargs = {**a.successive_halving_kwargs(), "grace_period": a.max_t, "brackets": 1}
    return ASHA(a.config_space, **kwargs)


SCHEDULERS: dict[str, Callable[[SchedulerArgs], Any]] = {
    "asha": build_asha,
    "sync_sh": build_sync_sh,
    "random_search": build_random_search,
}
