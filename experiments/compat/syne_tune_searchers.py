"""Syne Tune 0.16's model-based searchers, counted: where every suggestion came from.

A model-based method is only what its name says if its model chooses the configurations. Each
suggestion is classified as one of `SOURCES` (given initial points, random for lack of data,
random by design, random because the model failed, or the model's), and
`CountingLastValueSearcher.counts()` returns the tally of one tuning run; the launcher writes
it into the experiment's metadata. The GP searcher is in `syne_tune_botorch` (BoTorch is an
optional extra): 0.16's stock one never fits inside ASHA and falls back to random every time.

Why private names (the public API does not say which branch a searcher took):
- `KernelDensityEstimator._train_kde`, `_get_random_config`: KDE chooses between "too little
  data", its `random_fraction` coin flip and the model inside `suggest`;
- `Bore._train_model`, `_get_random_config`: `_train_model` returning False is BORE's own
  random fallback (all observations in one class);
- `BaseSearcher._next_points_to_evaluate`: the given initial points;
- `Bore._loss`, `_hp_ranges`: `BatchedBore` scores all acquisition candidates in one call (the
  stock loop scores them one by one, the bulk of a simulated run's time).
The counting wrappers also draw their random configurations from the searcher's own seeded
`random_state`: the stock ones draw from numpy's global generator, so two runs with the same
seed differ.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from syne_tune.config_space import Domain
from syne_tune.optimizer.schedulers.searchers.bore import Bore
from syne_tune.optimizer.schedulers.searchers.conformal.conformal_quantile_regression_searcher import (
    ConformalQuantileRegression,
)
from syne_tune.optimizer.schedulers.searchers.kde import KernelDensityEstimator
from syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher import (
    LastValueMultiFidelitySearcher,
)
from syne_tune.optimizer.schedulers.searchers.random_searcher import RandomSearcher
from syne_tune.optimizer.schedulers.searchers.searcher_factory import (
    searcher_cls as stock_searcher_cls,
)

PRIVATE_NAMES = [
    ("syne_tune.optimizer.schedulers.searchers.kde.KernelDensityEstimator", "_train_kde",
     "(self, train_data: numpy.ndarray, train_targets: numpy.ndarray) -> list[typing.Any, typing.Any] | None"),
    ("syne_tune.optimizer.schedulers.searchers.kde.KernelDensityEstimator", "_get_random_config", "(self)"),
    ("syne_tune.optimizer.schedulers.searchers.bore.Bore", "_train_model",
     "(self, train_data: list, train_targets: list) -> bool"),
    ("syne_tune.optimizer.schedulers.searchers.bore.Bore", "_get_random_config", "(self)"),
    ("syne_tune.optimizer.schedulers.searchers.bore.Bore", "_loss", "(self, x)"),
    ("syne_tune.optimizer.schedulers.searchers.bore.Bore", "_hp_ranges", "attribute"),
    ("syne_tune.optimizer.schedulers.searchers.searcher.BaseSearcher", "_next_points_to_evaluate",
     "(self) -> dict[str, typing.Any] | None"),
]

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Suggestion sources and the per-run counter
# ---------------------------------------------------------------------------

POINTS_TO_EVALUATE = "points_to_evaluate"  # user-provided initial configs
WARMUP = "warmup"  # random: too little data (outer or inner searcher's threshold)
RANDOM_BY_DESIGN = "random_by_design"  # random on purpose (KDE random_fraction, BORE random_prob, random search)
FALLBACK = "fallback"  # random because the model failed (exception / degenerate fit)
MODEL = "model"  # proposed by the surrogate model / acquisition function
SOURCES = (POINTS_TO_EVALUATE, WARMUP, RANDOM_BY_DESIGN, FALLBACK, MODEL)

_MAX_STORED_ERRORS = 20


class SuggestionCounter:
    """Counts suggestion sources for one tuning run; warns once per error type.

    One instance is shared by the outer ``CountingLastValueSearcher`` and all the
    fresh inner searchers it builds, so "warn once" means once per run, not
    once per refit (the inner searcher is rebuilt after every new result).
    """

    def __init__(self, label: str = ""):
        self.label = label
        self._counts = dict.fromkeys(SOURCES, 0)
        self._warned: set[str] = set()
        self.errors: list[str] = []  # first few fallback reasons, for reports

    def record(self, source: str, reason: BaseException | str | None = None) -> None:
        if source not in self._counts:
            raise ValueError(f"unknown suggestion source {source!r}; expected one of {SOURCES}")
        self._counts[source] += 1
        if source != FALLBACK:
            return
        text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
        if len(self.errors) < _MAX_STORED_ERRORS:
            self.errors.append(text)
        key = type(reason).__name__ if isinstance(reason, BaseException) else text
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(
                "%s: model-based suggestion failed, using a random configuration "
                "instead (%s). Further fallbacks of this kind are counted in "
                "counts()['fallback'] but not logged again.",
                self.label or "searcher",
                text,
                exc_info=reason if isinstance(reason, BaseException) else None,
            )

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def counts(self) -> dict[str, int]:
        out = dict(self._counts)
        out["total"] = self.total
        return out


class CountingMixin:
    """Shared plumbing: a ``counter`` and the source of the last suggestion.

    Subclasses call ``_init_counting()`` at the end of ``__init__``.
    ``CountingLastValueSearcher`` replaces ``counter`` with its run-level one.
    """

    counter: SuggestionCounter
    last_suggestion_source: str | None

    def _init_counting(self) -> None:
        self.counter = SuggestionCounter(label=type(self).__name__)
        self.last_suggestion_source = None

    def _record(self, source: str, reason: BaseException | str | None = None) -> None:
        self.last_suggestion_source = source
        self.counter.record(source, reason)

    def counts(self) -> dict[str, int]:
        return self.counter.counts()

    def _seeded_random_config(self) -> dict[str, Any]:
        # WHY: stock ``_get_random_config`` calls ``v.sample()`` with no
        # random_state, i.e. the global numpy RNG, so it ignores random_seed.
        return {
            k: v.sample(random_state=self.random_state) if isinstance(v, Domain) else v
            for k, v in self.config_space.items()
        }


# ---------------------------------------------------------------------------
# Counting wrappers around the stock searchers (behaviour otherwise unchanged)
# ---------------------------------------------------------------------------


class _CountingKDEMixin(CountingMixin):
    """KernelDensityEstimator: random while < enough data, then random with
    probability ``random_fraction``, else the KDE density ratio."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_counting()
        self._drew_random = False
        self._kde_fitted = False

    def _get_random_config(self):  # private override: detect + seed random draws
        self._drew_random = True
        return self._seeded_random_config()

    def _train_kde(self, train_data, train_targets):  # private override: was there enough data?
        models = super()._train_kde(train_data, train_targets)
        self._kde_fitted = models is not None
        return models

    def suggest(self, **kwargs):
        from_initial = bool(self.points_to_evaluate)
        self._drew_random = self._kde_fitted = False
        self.good_kde = None  # set by stock suggest only when the model branch runs
        config = super().suggest(**kwargs)
        if config is None:
            return None
        if from_initial:
            self._record(POINTS_TO_EVALUATE)
        elif not self._drew_random:
            self._record(MODEL)
        elif not self._kde_fitted:
            self._record(WARMUP)  # no data, or too few points per KDE for the dimension
        elif self.good_kde is None:
            self._record(RANDOM_BY_DESIGN)  # the random_fraction coin flip
        else:
            # Model branch ran but produced no candidate (only possible with num_candidates=0).
            self._record(FALLBACK, "KDE acquisition produced no candidate")
        return config


class _CountingBoreMixin(CountingMixin):
    """Bore: random while < ``init_random`` observations or with probability
    ``random_prob``; random if the classifier can't be trained (one class)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_counting()
        self._train_result: bool | None = None

    def _get_random_config(self):  # private override: seed (also used for acquisition candidates)
        return self._seeded_random_config()

    def _train_model(self, train_data, train_targets) -> bool:  # private override: observe fit outcome
        self._train_result = super()._train_model(train_data, train_targets)
        return self._train_result

    def suggest(self, **kwargs):
        from_initial = bool(self.points_to_evaluate)
        warmup = len(self.inputs) < self.init_random
        self._train_result = None
        config = super().suggest(**kwargs)
        if config is None:
            return None
        if from_initial:
            self._record(POINTS_TO_EVALUATE)
        elif warmup:
            self._record(WARMUP)
        elif self._train_result is None:
            self._record(RANDOM_BY_DESIGN)  # random_prob coin flip: no training attempted
        elif self._train_result is False:
            self._record(FALLBACK, "BORE: all observations fell into one class")
        else:
            self._record(MODEL)
        return config


class _CountingCQRMixin(CountingMixin):
    """ConformalQuantileRegression: random until ``num_init_random_draws``
    results (then ``surrogate_model`` exists), model afterwards. Fit errors
    propagate (stock has no fallback), so there is nothing to count as fallback."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_counting()

    def suggest(self, **kwargs):
        from_initial = bool(self.points_to_evaluate)
        config = super().suggest(**kwargs)
        if config is None:
            return None
        if from_initial:
            self._record(POINTS_TO_EVALUATE)
        elif self.surrogate_model is None:
            self._record(WARMUP)
        else:
            self._record(MODEL)
        return config


class _CountingRandomMixin(CountingMixin):
    """RandomSearcher baseline: every non-initial suggestion is random by design."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # WHY: stock RandomSearcher samples from the global numpy RNG.
        self.random_state = np.random.RandomState(self.random_seed)
        self._init_counting()

    def suggest(self, **kwargs):  # public override: seeded sampling
        config = self._next_points_to_evaluate()
        if config is not None:
            self._record(POINTS_TO_EVALUATE)
            return config
        self._record(RANDOM_BY_DESIGN)
        return self._seeded_random_config()


class CountingKDE(_CountingKDEMixin, KernelDensityEstimator):
    pass


class BatchedBore(Bore):
    """Bore whose default acquisition ("rs": the best of `feval_acq` distinct random
    configurations) asks the classifier once for all candidates instead of once per candidate
    (500 xgboost calls per suggestion were ~70% of a simulated ASHA-BORE run). The same random
    draws in the same order, the same duplicate rule, the same argmin: the same suggestions.
    Other acquisition optimizers run as stock."""

    def suggest(self, **kwargs):
        if self.acq_optimizer != "rs":
            return super().suggest(**kwargs)
        config = self._next_points_to_evaluate()
        if config is not None:
            return config
        if len(self.inputs) < self.init_random or self.random_state.rand() < self.random_prob:
            return self._get_random_config()
        if not self._train_model(self.inputs, self.targets):
            return self._get_random_config()
        candidates, seen, misses = [], set(), 0
        while len(candidates) < self.feval_acq and misses <= 10000:  # stock gives up likewise
            candidate = self._get_random_config()
            key = tuple(sorted(candidate.items()))
            if key in seen:
                misses += 1
                continue
            misses = 0
            seen.add(key)
            candidates.append(candidate)
        losses = self._loss(np.stack([self._hp_ranges.to_ndarray(c) for c in candidates]))
        return candidates[int(np.argmin(losses))]


class CountingBore(_CountingBoreMixin, BatchedBore):
    pass


class CountingCQR(_CountingCQRMixin, ConformalQuantileRegression):
    pass


class CountingRandomSearcher(_CountingRandomMixin, RandomSearcher):
    pass


# ---------------------------------------------------------------------------
# Resolving searcher names/classes to counting classes
# ---------------------------------------------------------------------------

# Order matters: most specific first.
_COUNTING_BY_BASE: list[tuple[type, type, type]] = [
    (KernelDensityEstimator, _CountingKDEMixin, CountingKDE),
    (Bore, _CountingBoreMixin, CountingBore),
    (ConformalQuantileRegression, _CountingCQRMixin, CountingCQR),
    (RandomSearcher, _CountingRandomMixin, CountingRandomSearcher),
]
_DYNAMIC: dict[type, type] = {}


def counting_searcher_cls(searcher: str | type) -> type:
    """Counting class for a Syne Tune searcher name or class.

    "botorch" gives the fixed GP searcher (`syne_tune_botorch.FixedBoTorchSearcher`);
    "botorch_stock" the stock one, counted (to measure its fallback). A class that already
    counts is returned unchanged; subclasses of the stock searchers get the matching counting
    mixin. Anything else raises TypeError: counts that silently miss a searcher would defeat
    their purpose.
    """
    if searcher in ("botorch", "botorch_stock"):
        from experiments.compat import syne_tune_botorch  # BoTorch: the optional extra

        return (syne_tune_botorch.FixedBoTorchSearcher if searcher == "botorch"
                else syne_tune_botorch.CountingBoTorchSearcher)
    if isinstance(searcher, str):
        searcher = stock_searcher_cls(searcher)
    if not isinstance(searcher, type):
        raise TypeError(f"expected a searcher name or class, got {searcher!r}")
    if issubclass(searcher, CountingMixin):
        return searcher
    for base, mixin, concrete in _COUNTING_BY_BASE:
        if searcher is base:
            return concrete
        if issubclass(searcher, base):
            if searcher not in _DYNAMIC:
                _DYNAMIC[searcher] = type(f"Counting{searcher.__name__}", (mixin, searcher),
                                          {"__module__": __name__})
            return _DYNAMIC[searcher]
    raise TypeError(f"no suggestion counting available for {searcher.__name__}")


class CountingLastValueSearcher(LastValueMultiFidelitySearcher):
    """``LastValueMultiFidelitySearcher`` that counts where suggestions come from.

    Usable wherever ASHA accepts a searcher instance::

        searcher = CountingLastValueSearcher(config_space, searcher="botorch", random_seed=0)
        scheduler = AsynchronousSuccessiveHalving(config_space, metric=..., searcher=searcher, random_seed=0)
        ...
        searcher.counts()  # {'points_to_evaluate': .., 'warmup': .., ..., 'total': ..}

    Warm-up while fewer than ``num_init_random_draws`` trials have reported is
    counted here; everything after is counted by the inner (counting)
    searcher, which shares this run's counter.
    """

    def __init__(
        self,
        config_space: dict,
        random_seed: int | None = None,
        points_to_evaluate: list[dict] | None = None,
        num_init_random_draws: int = 5,
        update_frequency: int = 1,
        max_fit_samples: int | None = None,
        searcher: str | type = "kde",
        searcher_kwargs: dict[str, Any] | None = None,
    ):
        inner_cls = counting_searcher_cls(searcher)
        super().__init__(
            config_space=config_space,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            num_init_random_draws=num_init_random_draws,
            update_frequency=update_frequency,
            max_fit_samples=max_fit_samples,
            searcher=inner_cls,
            # Copy: upstream pops "points_to_evaluate" from the dict it is given.
            searcher_kwargs=dict(searcher_kwargs or {}),
        )
        self.counter = SuggestionCounter(label=f"{type(self).__name__}[{inner_cls.__name__}]")

    def fit_model(self):
        super().fit_model()  # builds a fresh inner searcher and replays all results
        self.searcher.counter = self.counter  # one counter (and one warn-once set) per run

    def suggest(self, **kwargs) -> dict[str, Any] | None:
        from_initial = bool(self.points_to_evaluate)
        before = self.counter.total
        config = super().suggest(**kwargs)
        if config is None:
            return None
        if from_initial:
            self.counter.record(POINTS_TO_EVALUATE)
        elif self.searcher is None:
            self.counter.record(WARMUP)
        elif self.counter.total != before + 1:
            raise RuntimeError(
                f"inner searcher {type(self.searcher).__name__} returned a config without recording its source"
            )
        return config

    def counts(self) -> dict[str, int]:
        return self.counter.counts()
