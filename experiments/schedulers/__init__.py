"""The methods the launchers and comparisons accept by name.

A method is a scheduler family (asynchronous or synchronous successive halving), a searcher
(random, or one of Syne Tune's model-based ones: KDE as in BOHB, BORE, CQR, a GP through
BoTorch), and for the synchronous ones a variant (busy, as Syne Tune shipped it until 0.14;
waiting, as in the textbook). Adding a method is one entry in `METHODS`.

Every model-based searcher is wrapped so that it counts where its suggestions came from
(experiments/compat/syne_tune_searchers.py); the launcher records the counts in the
experiment's metadata. `ray_tune_asha` is Ray Tune's own tuner (experiments/tuning/ray_tune.py),
not a Syne Tune scheduler. The `optuna_tpe_*` methods are Optuna's TPE sampler with one of its
pruners, driven through ask-and-tell (experiments/schedulers/optuna_peers.py; the [peers] extra).
`smac_hyperband` is SMAC3's MultiFidelityFacade (a random forest with Hyperband), also through
ask-and-tell (experiments/schedulers/smac_peer.py; the [peers] extra), and so is `dehb`, DEHB's
differential evolution inside Hyperband's brackets (experiments/schedulers/dehb_peer.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from experiments.schedulers.sync_sh import rung_levels

# Syne Tune's ASHA hands points_to_evaluate to its searcher twice and warns about it each time.
logging.getLogger(
    "syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher"
).setLevel(logging.ERROR)


@dataclass(frozen=True)
class RungSettings:
    """Where a multi-fidelity method compares its trials: the first rung level (grace period)
    and the factor between rung levels (reduction factor)."""

    grace_period: int = 2
    reduction_factor: int = 2


# The settings every method of the study, the scaling study and the committed figures runs at,
# and the launchers' defaults: one comparison of methods needs one setting for all.
STUDY_SETTINGS = RungSettings()


@dataclass(frozen=True)
class Library:
    """A library a method needs beyond the base install, and the extra that installs it (with
    `then`, the command that installs the library itself after the extra, which brings its
    dependencies)."""

    module: str
    name: str
    extra: str
    then: str = ""


# the other libraries' methods (peers of Syne Tune's), by family. DEHB declares numpy<2.0 (it
# works with numpy 2): no extra can hold it, the Makefile installs it without its dependencies.
PEER_LIBRARIES = {"optuna": Library("optuna", "Optuna", "peers"), "smac": Library("smac", "SMAC3", "peers"),
                  "dehb": Library("dehb", "DEHB", "peers", then="pip install --no-deps dehb==0.1.2")}
BOTORCH = Library("botorch", "BoTorch", "gp")


@dataclass(frozen=True)
class SchedulerArgs:
    config_space: dict[str, Any]
    metric: str
    do_minimize: bool
    resource_attr: str  # the reported resource, e.g. "epoch"
    max_t: int
    grace_period: int
    reduction_factor: int
    seed: int
    points_to_evaluate: list[dict]
    max_resource_attr: str  # config key bounding one run of a trial
    brackets: int = 1
    n_workers: int = 1


@dataclass(frozen=True)
class MethodSpec:
    name: str
    family: str  # "asha", "sync" (synchronous SH/Hyperband), "random", "ray_tune", "optuna", "smac" or "dehb"
    searcher: str  # Syne Tune's searcher name
    description: str
    hyperband: bool = False  # brackets at every rung level unless --brackets says otherwise
    busy: bool = True  # synchronous family: start the next bracket instead of waiting
    searcher_kwargs: tuple = ()  # (name, value) pairs for the searcher, where a default does not do
    pruner: str = ""  # optuna family: "hyperband", "sha" or "median" (optuna_peers.PRUNERS)

    @property
    def rungs(self) -> bool:
        """Whether trials are compared at rung levels (the analysis marks them); Optuna's
        median rule compares at every step instead."""
        return (self.family in ("asha", "sync", "ray_tune", "smac", "dehb")
                or (self.family == "optuna" and self.pruner != "median"))

    @property
    def model_based(self) -> bool:
        """Whether its searcher learns from results (not random search): a model, or DEHB's
        evolution, which selects and mutates the configurations with the best results. Such
        methods, the peers among them, run --model-seeds seeds in a study (study.seeds_of)."""
        return self.searcher != "random_search"

    @property
    def peer(self) -> bool:
        """Another library's method (Optuna's, SMAC3's, DEHB's), not Syne Tune's."""
        return self.family in PEER_LIBRARIES

    @property
    def requires(self) -> Library | None:
        """The optional library the method needs, if any."""
        return BOTORCH if self.searcher == "botorch" else PEER_LIBRARIES.get(self.family)

    def default_brackets(self, grace_period: int, reduction_factor: int, max_t: int) -> int:
        """1, or one bracket per rung level for the Hyperband methods."""
        return len(rung_levels(grace_period, reduction_factor, max_t)) if self.hyperband else 1

    def build(self, args: SchedulerArgs):
        """The Syne Tune scheduler (for a model-based searcher, with counting); a diverged trial
        (NaN or infinite metric) is stopped and counts as the worst (schedulers/divergence.py)."""
        if self.family == "ray_tune":
            raise ValueError(f"{self.name} is Ray Tune's own tuner, not a Syne Tune scheduler")
        if self.family == "optuna":
            return self.build_optuna(args)
        if self.family == "smac":
            return self.build_smac(args)
        if self.family == "dehb":
            return self.build_dehb(args)
        searcher: Any = "random_search"
        if self.model_based:
            from experiments.compat.syne_tune_searchers import CountingLastValueSearcher

            searcher = CountingLastValueSearcher(
                args.config_space, random_seed=args.seed, searcher=self.searcher,
                points_to_evaluate=args.points_to_evaluate, searcher_kwargs=dict(self.searcher_kwargs),
                update_frequency=refit_every(args.n_workers))
        common = dict(metric=args.metric, time_attr=args.resource_attr, max_t=args.max_t,
                      do_minimize=args.do_minimize, random_seed=args.seed,
                      reduction_factor=args.reduction_factor, brackets=args.brackets)
        if self.family == "sync":
            from experiments.schedulers.divergence import DivergenceAwareSH

            return DivergenceAwareSH(
                args.config_space, grace_period=args.grace_period, busy=self.busy,
                points_to_evaluate=args.points_to_evaluate,
                max_resource_attr=args.max_resource_attr, searcher=searcher, **common)
        from experiments.schedulers.divergence import DivergenceAwareASHA

        # random search: every trial trained to max_t, ASHA with its only rung there, so the
        # configurations come from the same seeded sampler as ASHA's and SH's
        grace_period = args.max_t if self.family == "random" else args.grace_period
        if self.family == "random":
            common["brackets"] = 1
        searcher_kwargs = None if self.model_based else {"points_to_evaluate": args.points_to_evaluate}
        return DivergenceAwareASHA(args.config_space, grace_period=grace_period, searcher=searcher,
                                   searcher_kwargs=searcher_kwargs, **common)

    def build_optuna(self, args: SchedulerArgs):
        """Optuna's TPE with this method's pruner (Optuna is the optional [peers] extra)."""
        from experiments.schedulers.optuna_peers import OptunaScheduler, OptunaSettings

        settings = OptunaSettings(pruner=self.pruner, grace_period=args.grace_period,
                                  reduction_factor=args.reduction_factor, max_t=args.max_t, seed=args.seed,
                                  study_name=f"{self.name}-seed-{args.seed}")
        return OptunaScheduler(args.config_space, metric=args.metric, time_attr=args.resource_attr,
                               settings=settings, do_minimize=args.do_minimize,
                               points_to_evaluate=args.points_to_evaluate)

    def build_smac(self, args: SchedulerArgs):
        """SMAC's MultiFidelityFacade (SMAC is the optional [peers] extra)."""
        from experiments.schedulers.smac_peer import SmacHyperbandScheduler, SmacSettings

        settings = SmacSettings(grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                                max_t=args.max_t, seed=args.seed, name=f"{self.name}-seed-{args.seed}")
        return SmacHyperbandScheduler(args.config_space, metric=args.metric, time_attr=args.resource_attr,
                                      settings=settings, max_resource_attr=args.max_resource_attr,
                                      do_minimize=args.do_minimize, points_to_evaluate=args.points_to_evaluate)

    def build_dehb(self, args: SchedulerArgs):
        """DEHB (DEHB is the optional [peers] extra)."""
        from experiments.schedulers.dehb_peer import DehbScheduler, DehbSettings

        settings = DehbSettings(grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                                max_t=args.max_t, seed=args.seed)
        return DehbScheduler(args.config_space, metric=args.metric, time_attr=args.resource_attr, settings=settings,
                             max_resource_attr=args.max_resource_attr, do_minimize=args.do_minimize,
                             points_to_evaluate=args.points_to_evaluate)


RAY_TUNE_ASHA = "ray_tune_asha"


def refit_every(n_workers: int) -> int:
    """How many trials with new results a model-based searcher waits for before it refits
    its model: after each one with one worker (as Syne Tune's default), after each round of
    W results with W workers (at most 8). With W workers about W suggestions follow each round
    of results; refitting after every one of them costs W times as much (a GP or a boosted
    ensemble per suggestion dominates a simulated study) for a model that has moved little.
    Every suggestion after the warm-up still comes from the model."""
    return max(1, min(8, n_workers))

METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    MethodSpec("asha", "asha", "random_search", "asynchronous successive halving, random search "
               "(Syne Tune's ASHA)"),
    MethodSpec("hyperband", "asha", "random_search", "asynchronous Hyperband: ASHA with a bracket "
               "per rung level", hyperband=True),
    MethodSpec("bohb", "asha", "kde", "ASHA with kernel density estimates (Syne Tune's BOHB)"),
    MethodSpec("asha_bore", "asha", "bore", "ASHA with BORE's classifier (Syne Tune's ASHABORE)"),
    MethodSpec("asha_cqr", "asha", "cqr", "ASHA with conformal quantile regression (Syne Tune's ASHACQR)"),
    MethodSpec("asha_gp", "asha", "botorch", "ASHA with a Gaussian process through BoTorch (fixed "
               "so that it fits; needs the [gp] extra)",
               # a cheaper acquisition than stock's (whose GP never fits inside ASHA, so every
               # suggestion is random): 2 L-BFGS starts from the best of 128 random points
               # (stock: 20 of 200), 128 quasi-MC samples (botorch: 512), at most 10 iterations
               # (botorch: 200). Each suggestion costs ~10x less, which makes a study of
               # thousands of simulated runs fit in half an hour; tests/test_searchers.py checks
               # that it still finds a narrow optimum random search misses. (Maximising over 512
               # random candidates instead, the searcher's other strategy, was cheaper still
               # but failed that test.)
               searcher_kwargs=(("num_restarts", 2), ("num_raw_samples", 128), ("mc_samples", 128),
                                ("max_iterations", 10))),
    MethodSpec("sync_sh", "sync", "random_search", "synchronous successive halving as Syne Tune "
               "shipped it until 0.14: a free worker starts the next round instead of waiting"),
    MethodSpec("sync_sh_waiting", "sync", "random_search", "synchronous successive halving, "
               "textbook: a free worker waits until its rung completes", busy=False),
    MethodSpec("sync_hyperband", "sync", "random_search", "synchronous Hyperband (Syne Tune's "
               "SyncHyperband until 0.14)", hyperband=True),
    MethodSpec("sync_bohb", "sync", "kde", "synchronous Hyperband with kernel density estimates "
               "(Syne Tune's SyncBOHB until 0.14)", hyperband=True),
    MethodSpec("random_search", "random", "random_search", "random search, every trial to the end"),
    MethodSpec(RAY_TUNE_ASHA, "ray_tune", "random_search", "Ray Tune's own ASHAScheduler (runs on Ray)"),
    MethodSpec("optuna_tpe_hyperband", "optuna", "tpe", "Optuna's TPESampler with its HyperbandPruner "
               "(Optuna's multi-fidelity recipe; needs the [peers] extra)", pruner="hyperband"),
    MethodSpec("optuna_tpe_sha", "optuna", "tpe", "Optuna's TPESampler with its asynchronous "
               "SuccessiveHalvingPruner (needs the [peers] extra)", pruner="sha"),
    MethodSpec("optuna_tpe_median", "optuna", "tpe", "Optuna's TPESampler with its MedianPruner, "
               "Optuna's default pruner (needs the [peers] extra)", pruner="median"),
    MethodSpec("smac_hyperband", "smac", "random_forest", "SMAC3's MultiFidelityFacade: a random forest "
               "with SMAC's Hyperband, promoted trials resumed (needs the [peers] extra)"),
    MethodSpec("dehb", "dehb", "differential_evolution", "DEHB: differential evolution inside Hyperband's "
               "brackets, promoted trials resumed (needs the [peers] extra)"),
)}


def methods_of(family: str) -> list[str]:
    return [name for name, spec in METHODS.items() if spec.family == family]


# What each launcher offers: run_asha.py the asynchronous methods (no trial waits for others;
# Optuna's pruners decide each trial alone), run_sync_sh.py the synchronous ones (SMAC's and
# DEHB's Hyperband promote a rung once it is complete).
ASYNC_METHODS = methods_of("asha") + methods_of("random") + methods_of("optuna")
SYNC_METHODS = methods_of("sync") + methods_of("smac") + methods_of("dehb")


@dataclass(frozen=True)
class LauncherDefaults:
    """What a launcher runs when no flag says otherwise, and why (its --help says so)."""

    method: str
    settings: RungSettings
    why: str


# run_asha.py with no flags, and so `make run`, the suite's main job: the ASHA variant (searcher
# and settings) that the study's sweep ranks first on LeNet with 2 workers (a peer, Optuna's TPE
# with its successive-halving pruner, ranks above it: docs/results.md, "The main job").
# tests/test_results.py checks it against the committed sweep.
MAIN_JOB = LauncherDefaults("asha_gp", RungSettings(grace_period=2, reduction_factor=4),
                            "the ASHA variant the study's sweep ranks first on LeNet with 2 workers, "
                            "docs/results.md#the-main-job")
SYNC_DEFAULTS = LauncherDefaults("sync_sh", STUDY_SETTINGS, "the study's settings")


def scheduler_record(scheduler) -> dict:
    """What a run's metadata keeps of its scheduler: where a counting (model-based) searcher's
    suggestions came from, a synchronous scheduler's rung decisions, and for Optuna's methods
    where TPE's suggestions came from, what the pruner decided and the settings of both; for
    SMAC's and DEHB's, where their configurations came from, their evaluations per budget and
    their settings."""
    from analysis import experiment_folder as folder

    record = {}
    if hasattr(scheduler, "decision_counts"):  # optuna_peers.OptunaScheduler
        record[folder.SEARCHER_COUNTS] = {**scheduler.suggestion_counts(), "fallback_errors": []}
        record[folder.PRUNER_DECISIONS] = scheduler.decision_counts()
        record[folder.OPTUNA_SETTINGS] = scheduler.settings.record()
    if hasattr(scheduler, "evaluation_counts"):  # ask_tell.ResumingAskTellScheduler: SMAC's, DEHB's
        evaluations, settings = {"smac": (folder.SMAC_EVALUATIONS, folder.SMAC_SETTINGS),
                                 "dehb": (folder.DEHB_EVALUATIONS, folder.DEHB_SETTINGS)}[scheduler.library]
        record[folder.SEARCHER_COUNTS] = {**scheduler.suggestion_counts(), "fallback_errors": []}
        record[evaluations] = scheduler.evaluation_counts()
        record[settings] = scheduler.settings.record()
    counts = getattr(getattr(scheduler, "searcher", None), "counts", None)
    if counts is not None:
        record[folder.SEARCHER_COUNTS] = {**counts(), "fallback_errors": list(scheduler.searcher.counter.errors)}
    if hasattr(scheduler, "rung_history"):
        record[folder.RUNG_HISTORY] = scheduler.rung_history
    return record
