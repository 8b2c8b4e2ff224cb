"""SMAC3's multi-fidelity recipe as a Syne Tune scheduler: `MultiFidelityFacade` (a random
forest with expected improvement chooses configurations; its Hyperband intensifier decides at
which budget each one runs), driven through SMAC's public ask-and-tell API, so a comparison can
put SMAC next to the suite's own methods on the same backends, seeds and budgets.

SMAC evaluates a configuration at a budget: each `ask()` gives a `TrialInfo` (configuration,
budget, seed), and `tell()` its cost. The budget becomes the trial's resource bound (config key
`max_resource_attr`, `st_max_resource`), rounded to whole epochs (`epochs`), so the trial trains
up to it; at its report there SMAC is told the metric (cost = metric when minimised, -metric
when maximised), and the trial is paused. When SMAC later asks for the same configuration at a
higher budget (Hyperband promotes it), the paused trial is resumed from its checkpoint with the
higher bound, as synchronous SH resumes a promoted trial (schedulers/sync_sh.py): no epoch is
trained twice. SMAC itself trains from scratch at every budget; for an objective that resumes
exactly from its checkpoint the result is the same (tests/test_smac_peer.py checks the sequence
of (configuration, budget) against SMAC's own `optimize()` loop).

SMAC's intensifier never waits: when no trial of a running bracket can start, it opens the
next bracket (as the busy variant of synchronous SH), so `suggest` always has something to
start; only an exhausted search space ends the suggestions.

A diverged result (NaN or infinite, schedulers/divergence.py) stops its trial, and SMAC is told
it CRASHED with cost = the scenario's crash_cost (infinite), as SMAC's own runner does when a
target function returns NaN or infinity: the intensifier then ranks it last. SMAC's default
encoder would also train its random forest on that infinite cost, which fails (NaN targets),
so the model is fitted on successful evaluations only (`considered_states=[SUCCESS]`), as the
suite's searchers leave a diverged trial out; without crashes this changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import smac
from joblib import parallel_config
from ConfigSpace import Configuration, ConfigurationSpace
from smac import MultiFidelityFacade, Scenario
from smac.initial_design import RandomInitialDesign
from smac.runhistory import StatusType, TrialInfo, TrialValue
from smac.runhistory.encoder import RunHistoryLogScaledEncoder

from experiments.compat.syne_tune_searchers import FALLBACK, MODEL, POINTS_TO_EVALUATE, RANDOM_BY_DESIGN, WARMUP
from experiments.schedulers.ask_tell import (ResumingAskTellScheduler, configuration_space, epoch_levels, epochs,
                                             scratch_folder)

INITIAL_DESIGN = "initial_design"
POINT_ORIGIN = "Points to evaluate"  # the origin given to points_to_evaluate
# SMAC says where each configuration came from in `Configuration.origin`
ORIGINS = (
    (POINT_ORIGIN, POINTS_TO_EVALUATE),
    ("Initial", INITIAL_DESIGN),  # "Initial Design: Random", "Initial design"
    ("Random Search (max retries", FALLBACK),  # the maximiser found no new configuration
    ("Acquisition Function Maximizer", MODEL),  # local search / sorted random search on EI
    ("Random Search", RANDOM_BY_DESIGN),  # interleaved at random (ProbabilityRandomDesign, 0.2)
)


def source_of(origin: str | None) -> str:
    """Where a configuration came from, by its origin when SMAC first hands it out (None: sampled
    at random because no evaluation was in to fit the model on yet)."""
    if origin is None:
        return WARMUP
    return next((source for prefix, source in ORIGINS if origin.startswith(prefix)), f"other: {origin}")


def budget_levels(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """The epochs at which SMAC's Hyperband evaluates: max_t * eta^-k for k = 0 .. s_max,
    s_max = floor(log_eta(max_t / grace_period)), rounded by `epochs` (SMAC counts its budgets
    down from max_t; the suite's rungs count up from the grace period)."""
    s_max = int(np.floor(np.log(max_t / grace_period) / np.log(reduction_factor)))
    return epoch_levels(max_t, reduction_factor, s_max + 1)


@dataclass(frozen=True)
class SmacSettings:
    """SMAC's documented multi-fidelity settings, mapped onto the suite's rung settings.

    - Scenario: deterministic=True (one seed per configuration), min_budget = grace period,
      max_budget = max_t, seed = the run's, n_trials large (the suite's stopping criterion ends
      the run; n_trials matters only as a cap on the initial design, max_ratio * n_trials).
    - Intensifier: `MultiFidelityFacade.get_intensifier(eta = reduction factor)`, Hyperband with
      incumbent_selection="highest_budget" as SMAC's multi-fidelity example (1_mlp_epochs.py).
    - Initial design: `MultiFidelityFacade.get_initial_design(n_configs=5)`, random, as that
      example ("five random configurations before starting the optimization"; the facade's
      default would be 10 per hyperparameter), after points_to_evaluate (`PointsFirstDesign`).
    - Everything else is the facade's: random forest, log-scaled EI, local and sorted random
      search, a random configuration interleaved with probability 0.2, the model retrained
      after every 8 suggestions; the encoder fits successful evaluations only (module doc).
    """

    grace_period: int
    reduction_factor: int
    max_t: int
    seed: int
    name: str
    n_trials: int = 10**9
    n_initial_configs: int = 5
    incumbent_selection: str = "highest_budget"
    output_directory: str = ""  # "" = a new temporary folder (SMAC writes its scenario there)

    def make_facade(self, space: ConfigurationSpace, points: list[dict] = (), target_function=None):
        """The facade, for ask-and-tell (no target function) or for SMAC's own `optimize()`."""
        scenario = Scenario(space, deterministic=True, n_trials=self.n_trials, min_budget=self.grace_period,
                            max_budget=self.max_t, seed=self.seed, name=self.name,
                            output_directory=self.output_directory or scratch_folder("smac-"))
        additional = [Configuration(space, values=point) for point in points]
        for config in additional:
            config.origin = POINT_ORIGIN
        # as MultiFidelityFacade.get_initial_design makes it, with the points moved to the front
        initial_design = PointsFirstDesign(scenario=scenario, n_configs=self.n_initial_configs,
                                           additional_configs=additional)
        intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=self.reduction_factor,
                                                          incumbent_selection=self.incumbent_selection)
        encoder = RunHistoryLogScaledEncoder(scenario, considered_states=[StatusType.SUCCESS])
        return MultiFidelityFacade(scenario, target_function, initial_design=initial_design,
                                   intensifier=intensifier, runhistory_encoder=encoder, overwrite=True,
                                   logging_level=40)

    def record(self) -> dict:
        return {**asdict(self), "smac_version": smac.version,
                "budget_levels": budget_levels(self.grace_period, self.reduction_factor, self.max_t)}


class PointsFirstDesign(RandomInitialDesign):
    """SMAC's random initial design with points_to_evaluate first: SMAC appends the
    configurations it is given after its random ones, while every method of the suite starts
    from the same configurations (build.first_configurations), so all share a start line."""

    def select_configurations(self) -> list[Configuration]:
        configs = super().select_configurations()
        return ([c for c in configs if c.origin == POINT_ORIGIN]
                + [c for c in configs if c.origin != POINT_ORIGIN])


def one_thread():
    """SMAC's random forest asks joblib for every core (n_jobs=-1) to fit and predict its 10
    small trees; joblib's threads then wait on each other longer than the trees take (a
    simulated 8-worker run: 48 s, two thirds of it in joblib's waits). One thread gives the
    same forest (each tree's seed and the order of the sums do not depend on the threads)."""
    return parallel_config(backend="sequential")


class SmacHyperbandScheduler(ResumingAskTellScheduler):
    """A Syne Tune scheduler that asks SMAC's `MultiFidelityFacade` what to run next: a new
    trial for a new configuration, or the paused trial of a promoted one, resumed up to its new
    budget (module doc; ask_tell.ResumingAskTellScheduler).

    Counts of what it did: `suggestions` (new configurations by source: points_to_evaluate,
    initial_design, warmup = random before any result, random_by_design = SMAC's interleaved
    random ones, fallback, model) and `evaluations` (what SMAC was told, per budget in epochs,
    and how: success, diverged, failed), which the run's metadata keeps (`scheduler_record`).
    """

    library = "smac"

    def __init__(self, config_space: dict[str, Any], metric: str, time_attr: str, settings: SmacSettings,
                 max_resource_attr: str, do_minimize: bool = True, points_to_evaluate: list[dict] | None = None):
        super().__init__(config_space, metric, time_attr, do_minimize, settings.seed,
                         sources=(POINTS_TO_EVALUATE, INITIAL_DESIGN, WARMUP, RANDOM_BY_DESIGN, FALLBACK, MODEL),
                         max_resource_attr=max_resource_attr, max_t=settings.max_t)
        self.settings = settings
        space = configuration_space(config_space, settings.seed)
        self.points = [self.searched_values(point, space) for point in points_to_evaluate or []]
        self.events: list[tuple] = []  # ("ask",) or ("tell", ask index, cost, status): to rebuild SMAC
        self.asked: list[TrialInfo] = []
        self.smac = self._new_facade()

    def _new_facade(self):
        return self.settings.make_facade(configuration_space(self.config_space, self.settings.seed), self.points)

    # -- SMAC, with a log of every call so that a pickled scheduler can rebuild it ------------

    def _ask_library(self) -> int | None:
        """None: the search space is exhausted."""
        try:
            with one_thread():
                self.asked.append(self.smac.ask())
        except StopIteration:
            return None
        self.events.append(("ask",))
        return len(self.asked) - 1

    def _tell_library(self, index: int, loss: float | None) -> None:
        """The loss as SMAC's cost; a failed or diverged evaluation CRASHED, at cost infinity."""
        cost, status = (math.inf, StatusType.CRASHED) if loss is None else (loss, StatusType.SUCCESS)
        with one_thread():
            self.smac.tell(self.asked[index], TrialValue(cost=cost, status=status), save=False)
        self.events.append(("tell", index, cost, int(status)))

    def __getstate__(self) -> dict:
        """SMAC's facade holds a generator, which no pickle can hold: leave it out."""
        state = dict(self.__dict__)
        state.update(smac=None, asked=[])
        return state

    def __setstate__(self, state: dict) -> None:
        """Rebuild SMAC by making its calls again, in the same order: it repeats its asks."""
        self.__dict__.update(state)
        self.smac = self._new_facade()
        for event in self.events:
            if event[0] == "ask":
                self.asked.append(self.smac.ask())
            else:
                _, index, cost, status = event
                self.smac.tell(self.asked[index], TrialValue(cost=cost, status=StatusType(status)), save=False)

    def budget(self, index: int) -> int:
        return epochs(self.asked[index].budget, self.settings.max_t)

    def values(self, index: int) -> dict:
        return dict(self.asked[index].config)

    def source(self, index: int) -> str:
        return source_of(self.asked[index].config.origin)
