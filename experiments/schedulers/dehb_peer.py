"""DEHB (differential evolution inside Hyperband's brackets; Awad, Mallik and Hutter, 2021) as
a Syne Tune scheduler, driven through DEHB's public ask-and-tell API, so a comparison can put
DEHB next to the suite's own methods on the same backends, seeds and budgets.

DEHB keeps one population per fidelity and runs Hyperband's brackets of synchronous successive
halving over them: each `ask()` gives a job (configuration, fidelity, config_id, parent_id,
bracket_id), and `tell(job, {"fitness", "cost"})` its loss (fitness = metric when minimised,
-metric when maximised). The fidelity becomes the trial's resource bound (config key
`max_resource_attr`), rounded to whole epochs (ask_tell.epochs), and the trial is paused at its
report there (ask_tell.ResumingAskTellScheduler, shared with SMAC's method).

How a configuration reaches a higher fidelity: in its first brackets (as many as it has
fidelities) DEHB promotes the best configurations of a rung unchanged, as successive halving
does; the same configuration asked for at a higher fidelity then resumes its paused trial from
its checkpoint up to the new bound, so no epoch is trained twice. Every other configuration is
a new vector (mutation and crossover of the population of the fidelity below, DE's rand1_bin)
and starts a new trial, unless it equals a configuration paused below its fidelity (a mutant
can copy a member of the population it comes from, where the two members DE takes the
difference of are equal), which resumes too. The run's metadata counts both per fidelity
(`new_trials_by_budget`, `resumed_by_budget` in `dehb_evaluations`): on the toy objective with
one worker (tests/test_dehb_peer.py), 60 evaluations at 1, 2, 4 and 8 epochs resumed 13 paused
trials (the 12 promotions of DEHB's first three brackets, and one mutant that copied a
configuration paused at 2 epochs) and started 47 new ones. DEHB itself trains from scratch at
every fidelity; for an objective that resumes exactly from its checkpoint the result is the
same (the tests check the sequence of (configuration, fidelity) against DEHB's own `run()`
loop).

Where a configuration came from (`searcher_counts`): points_to_evaluate; initial_population (a
mutant of a population some of whose members were still DEHB's random initial ones, never
evaluated: DE's first generation; DEHB never evaluates its initial population as it is, so its
first configurations are these); evolution (a mutant of a population whose members all had a
result); promotion (a promoted configuration started anew, having no paused trial to resume).

points_to_evaluate: DEHB (0.1.2) takes no initial configurations, and `tell` only takes jobs it
asked for. Each point is evaluated in place of DEHB's next new mutant, from its first ask on (its
first bracket's lowest fidelity): the job and DEHB's record of the configuration get the
point's values, as DEHB's own replay of a saved history puts a recorded configuration into a
fresh job (`tell(..., replay=True)`). DEHB then treats the point as its mutant: its result can
take the parent's place in the population, and it can be promoted.

DEHB's `ask()` always has a job: when no bracket can go on (each waits for results) it opens
the next one, as the busy variant of synchronous SH; `suggest` never returns None.

A diverged result (NaN or infinite, schedulers/divergence.py) stops its trial, and a failed
trial ends; DEHB is told the worst finite fitness (`WORST_FITNESS`). DEHB's own `run()` has no
notion of a failed evaluation: it tells whatever the function returns. Told NaN or infinity,
DEHB counts the configuration as never evaluated (its promotion takes those with fitness below
infinity; NaN never wins a selection), and once a whole population has no finite fitness when
DEHB promotes from it, its `ask()` fails (IndexError in `_get_promotion_candidate`). The worst
finite fitness ranks the trial last everywhere and keeps DEHB going; promoted anyway (for lack
of others), such a configuration is told the worst again at once.

Settings (`DehbSettings`): DEHB's documented defaults (mutation factor 0.5, crossover
probability 0.5, strategy rand1_bin), min_fidelity = grace period, max_fidelity = max_t, eta =
the reduction factor, seed = the run's. n_workers = 1: DEHB uses it only to start a Dask
cluster for its own `run()`; ask-and-tell leaves the workers to Syne Tune. DEHB writes its log
(and, in `run()`, its state) under `output_path`, a scratch folder (ask_tell.scratch_folder),
and saves nothing during ask-and-tell (save_freq "end").

Pickling (tuner.dill, --resume): DEHB's optimizer pickles with its state (populations, random
generators, brackets), leaving out its logger, put back on loading.
"""

from __future__ import annotations

import importlib.metadata
import sys
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from dehb import DEHB
from loguru import logger

from experiments.compat.dehb import drop_finished_brackets
from experiments.compat.syne_tune_searchers import POINTS_TO_EVALUATE
from experiments.schedulers.ask_tell import (ResumingAskTellScheduler, configuration_space, epoch_levels, epochs,
                                             scratch_folder)

INITIAL_POPULATION = "initial_population"
EVOLUTION = "evolution"
PROMOTION = "promotion"
WORST_FITNESS = sys.float_info.max  # DEHB minimises; see the module doc for why not infinity

# DEHB logs through loguru (at WARNING and above by default); a study of thousands of runs
# stays quiet.
logger.disable("dehb")


def fidelity_levels(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """The epochs at which DEHB evaluates: max_t * eta^-k for k below DEHB's count of
    fidelities, -int(log(min / max) / log(eta)) + 1 as DEHB computes it, rounded by `epochs`."""
    count = -int(np.log(grace_period / max_t) / np.log(reduction_factor)) + 1
    return epoch_levels(max_t, reduction_factor, count)


@contextmanager
def quiet():
    """DEHB's calls of ConfigSpace's older API (get_hyperparameters, get_dictionary) warn at
    every configuration with ConfigSpace 1.x; they work the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def restore_loguru() -> None:
    """DEHB's constructor replaces loguru's handlers (process-wide) with its own: one to stdout
    and one to output_path/dehb.log, written by a thread. Put loguru's default (stderr) back;
    DEHB's own messages stay disabled (above)."""
    logger.remove()
    logger.add(sys.stderr)


@dataclass(frozen=True)
class DehbSettings:
    """DEHB's settings, mapped onto the suite's rung settings (module doc)."""

    grace_period: int
    reduction_factor: int
    max_t: int
    seed: int
    mutation_factor: float = 0.5
    crossover_prob: float = 0.5
    strategy: str = "rand1_bin"
    output_path: str = ""  # "" = a new temporary folder (DEHB writes its log there)

    def make_optimizer(self, space: ConfigurationSpace, target_function=None) -> DEHB:
        """The optimizer, for ask-and-tell (no target function) or for DEHB's own `run()`."""
        with quiet():
            optimizer = DEHB(f=target_function, cs=space, min_fidelity=self.grace_period, max_fidelity=self.max_t,
                             eta=self.reduction_factor, mutation_factor=self.mutation_factor,
                             crossover_prob=self.crossover_prob, strategy=self.strategy, seed=self.seed,
                             n_workers=1, save_freq="end", output_path=self.output_path or scratch_folder("dehb-"))
        restore_loguru()
        return optimizer

    def record(self) -> dict:
        return {**asdict(self), "n_workers": 1, "dehb_version": importlib.metadata.version("dehb"),
                "fidelity_levels": fidelity_levels(self.grace_period, self.reduction_factor, self.max_t)}


class DehbScheduler(ResumingAskTellScheduler):
    """A Syne Tune scheduler that asks DEHB what to run next: a new trial for a new
    configuration, or the paused trial of a promoted one, resumed up to its new fidelity
    (module doc; ask_tell.ResumingAskTellScheduler).

    Counts of what it did: `suggestions` (new trials by source: points_to_evaluate,
    initial_population, evolution, promotion) and `evaluations` (what DEHB was told, per
    fidelity in epochs, and how: success, diverged, failed; trials started and resumed per
    fidelity), which the run's metadata keeps (`scheduler_record`).
    """

    library = "dehb"

    def __init__(self, config_space: dict[str, Any], metric: str, time_attr: str, settings: DehbSettings,
                 max_resource_attr: str, do_minimize: bool = True, points_to_evaluate: list[dict] | None = None):
        super().__init__(config_space, metric, time_attr, do_minimize, settings.seed,
                         sources=(POINTS_TO_EVALUATE, INITIAL_POPULATION, EVOLUTION, PROMOTION),
                         max_resource_attr=max_resource_attr, max_t=settings.max_t)
        self.settings = settings
        self.space = configuration_space(config_space, settings.seed)
        self.points = [self.searched_values(point, self.space) for point in points_to_evaluate or []]
        self.dehb = settings.make_optimizer(self.space)
        self.asked: list[dict] = []  # DEHB's jobs, by index
        self.origins: list[str] = []  # where each job's configuration came from

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.dehb.logger = logger  # left out of DEHB's pickle

    # -- DEHB ---------------------------------------------------------------------------------

    def _ask_library(self) -> int:
        announced = len(self.dehb.config_repository.configs)
        with quiet():
            job = self.dehb.ask()
        if len(self.dehb.config_repository.configs) == announced:  # DEHB took it from a population
            origin = PROMOTION
        elif self.points:
            self.evaluate_instead(job, self.points.pop(0))
            origin = POINTS_TO_EVALUATE
        else:
            origin = EVOLUTION if self.mutated_from_evaluated(job) else INITIAL_POPULATION
        self.asked.append(job)
        self.origins.append(origin)
        return len(self.asked) - 1

    def evaluate_instead(self, job: dict, values: dict) -> None:
        """Make DEHB's new mutant `job` the configuration `values` (module doc)."""
        config = Configuration(self.space, values=values)
        with quiet():
            self.dehb.config_repository.configs[job["config_id"]].config = self.dehb.configspace_to_vector(config)
        job["config"] = config

    def mutated_from_evaluated(self, job: dict) -> bool:
        """Whether every member of the population DEHB mutated the job's configuration from
        (that of the fidelity below in its bracket; at the bracket's lowest, its own) had a
        result (a never evaluated member has fitness infinity). `ask` changes no fitness, so
        the populations are as they were when it mutated."""
        bracket = next(b for b in self.dehb.active_brackets if b.bracket_id == job["bracket_id"])
        lower, _ = bracket.get_lower_fidelity_promotions(job["fidelity"])
        return bool(np.isfinite(self.dehb.de[lower].fitness).all())

    def _tell_library(self, index: int, loss: float | None) -> None:
        """The loss as DEHB's fitness (failed or diverged: WORST_FITNESS), the epochs as its
        cost; then drop finished brackets, as DEHB's own `run()` does after every result
        (compat.dehb)."""
        fitness = WORST_FITNESS if loss is None else loss
        with quiet():
            self.dehb.tell(self.asked[index], {"fitness": fitness, "cost": float(self.budget(index))})
        drop_finished_brackets(self.dehb)

    def budget(self, index: int) -> int:
        return epochs(self.asked[index]["fidelity"], self.settings.max_t)

    def values(self, index: int) -> dict:
        return dict(self.asked[index]["config"])

    def source(self, index: int) -> str:
        return self.origins[index]
