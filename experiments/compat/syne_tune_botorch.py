"""Syne Tune 0.16's GP searcher (`BoTorchSearcher`), fixed so that it really fits, and counted.

Inside `AsynchronousSuccessiveHalving`, 0.16's `BoTorchSearcher` never fits its GP: the
multi-fidelity wrapper builds a fresh searcher for every fit and feeds it results through
`on_trial_complete`, which records the metric but not the configuration; the fit then raises,
a bare `except` logs "Botorch was unable to fit the model, sampling randomly", and every
suggestion is random. Measured on a 2-D problem: 55 of 55 suggestions after warm-up random.
`FixedBoTorchSearcher` fixes that and the defects found beside it (see its docstring);
`CountingBoTorchSearcher` is the stock one, counted, to measure the fallback.

Why private names: `BoTorchSearcher._get_random_config` (overridden by the counted stock
searcher: the only trace its bare `except` leaves) and `BoTorchSearcher._hp_ranges` (the
encoding of configurations, which the fixed searcher reuses). Imported only where a GP method
is chosen: BoTorch is the optional extra `[gp]`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Warp
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils import standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from syne_tune.optimizer.schedulers.searchers.botorch.botorch_searcher import BoTorchSearcher

from experiments.compat.syne_tune_searchers import (
    FALLBACK,
    MODEL,
    POINTS_TO_EVALUATE,
    WARMUP,
    CountingMixin,
)

PRIVATE_NAMES = [
    ("syne_tune.optimizer.schedulers.searchers.botorch.botorch_searcher.BoTorchSearcher",
     "_get_random_config", "(self)"),
    ("syne_tune.optimizer.schedulers.searchers.botorch.botorch_searcher.BoTorchSearcher",
     "_hp_ranges", "attribute"),
]


class _CountingStockBoTorchMixin(CountingMixin):
    """Stock BoTorchSearcher, counted. Its fallback happens inside a bare
    ``except`` in ``_sample_next_candidate``; the only observable trace is the
    call to ``_get_random_config`` after warm-up, so that is what we hook."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_counting()
        self._drew_random = False

    def _get_random_config(self):  # private override: detect + seed random draws
        self._drew_random = True
        return self._seeded_random_config()

    def suggest(self, **kwargs):
        from_initial = bool(self.points_to_evaluate)
        warmup = len(self.objectives()) < self.num_minimum_observations
        self._drew_random = False
        config = super().suggest(**kwargs)
        if config is None:
            return None
        if from_initial:
            self._record(POINTS_TO_EVALUATE)
        elif warmup:
            self._record(WARMUP)
        elif self._drew_random:
            self._record(FALLBACK, "stock BoTorchSearcher swallowed a model error (see its 'sampling randomly' log)")
        else:
            self._record(MODEL)
        return config




class FixedBoTorchSearcher(CountingMixin, BoTorchSearcher):
    """``BoTorchSearcher`` with the 0.16.0 defects fixed; counts its own sources.

    Fixes, each relative to stock ``BoTorchSearcher``:

    * ``on_trial_complete`` records the config, so a searcher fed results
      without having suggested them (what ``LastValueMultiFidelitySearcher``
      does on every refit) can build its training set.
    * Training inputs/targets are built from one list of trial ids, so they
      stay aligned when trials finish out of order (stock zips two dicts with
      different insertion orders).
    * Pending suggestions live in their own dict with negative ids, so they
      can never overwrite a real trial's config (stock used
      ``len(trial_configs)``, which collides with real ids). A pending entry is
      bound to its real trial by config on the first ``on_trial_result`` /
      ``on_trial_complete``.
    * Noise: inferred by the GP (``noise_variance=None``, botorch's
      ``GaussianLikelihood`` with a lower bound of 1e-4) or a small fixed
      variance. Stock passes ``noise_level * randn_like(Y)`` as a *variance*:
      0 by default (an interpolating GP, fit failures on near-duplicate
      points) and negative entries for any ``noise_level > 0`` (botorch
      rejects it, so every fit fails).
    * ``input_warping`` builds ``Warp(d=..., indices=...)``; stock omits ``d``,
      which botorch >= 0.12 requires (so stock warping always fell back).
    * Random configs come from ``self.random_state`` (seeded).
    * Failures are not silent: each fallback is counted
      (``counts()['fallback']``), the first of each exception type is logged
      with its traceback, and ``raise_on_error=True`` re-raises instead.

    :param noise_variance: ``None`` to infer the observation noise, or a fixed
        noise variance on the standardized target scale (e.g. ``1e-3``). If
        ``None`` and the stock ``noise_level > 0`` is given, ``noise_level**2``
        is used (stock documents it as a standard deviation).
    :param raise_on_error: re-raise model errors instead of falling back.
    :param mc_samples: quasi-Monte Carlo samples of the acquisition (botorch's default: 512).
    :param max_iterations: L-BFGS-B iterations per acquisition optimisation (botorch's: 200).
    Other parameters: see ``BoTorchSearcher``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        points_to_evaluate: list[dict] | None = None,
        num_init_random: int = 3,
        no_fantasizing: bool = False,
        max_num_observations: int | None = 200,
        input_warping: bool = False,
        double_precision: bool = True,
        noise_level: float = 0,
        num_restarts: int = 20,
        optimization_strategy: str = "gradient",
        num_raw_samples: int = 200,
        random_seed: int | None = None,
        noise_variance: float | None = None,
        raise_on_error: bool = False,
        mc_samples: int | None = None,
        max_iterations: int | None = None,
    ):
        super().__init__(
            config_space,
            points_to_evaluate=points_to_evaluate,
            num_init_random=num_init_random,
            no_fantasizing=no_fantasizing,
            max_num_observations=max_num_observations,
            input_warping=input_warping,
            double_precision=double_precision,
            noise_level=noise_level,
            num_restarts=num_restarts,
            optimization_strategy=optimization_strategy,
            num_raw_samples=num_raw_samples,
            random_seed=random_seed,
        )
        if optimization_strategy not in ("gradient", "random"):
            raise ValueError(f"optimization_strategy must be 'gradient' or 'random', got {optimization_strategy!r}")
        if noise_variance is None and noise_level > 0:
            noise_variance = float(noise_level) ** 2
        if noise_variance is not None and noise_variance <= 0:
            raise ValueError("noise_variance must be > 0 (or None to infer it)")
        self.noise_variance = noise_variance
        self.raise_on_error = raise_on_error
        self.mc_samples = mc_samples
        self.max_iterations = max_iterations
        self._dtype = torch.double if double_precision else torch.float
        # Pending suggestions: negative id -> config. Kept apart from
        # ``trial_configs`` (real trial ids only) so the two can never collide.
        self._pending_configs: dict[int, dict] = {}
        self._next_pending_id = -1
        self._pending_of_trial: dict[int, int] = {}  # real trial id -> pending id
        self._init_counting()

    # -- scheduler callbacks ------------------------------------------------

    def on_trial_result(self, trial_id: int, config: dict[str, Any], metric: float):
        # Intermediate result: not an observation, but it tells us which
        # pending suggestion became this trial (needed for on_trial_error).
        trial_id = int(trial_id)
        if trial_id not in self._pending_of_trial:
            pending_id = self._match_pending(config)
            if pending_id is not None:
                self._pending_of_trial[trial_id] = pending_id

    def on_trial_complete(self, trial_id: int, config: dict[str, Any], metric: float):
        trial_id = int(trial_id)
        pending_id = self._pending_of_trial.pop(trial_id, None)
        if pending_id is None:
            pending_id = self._match_pending(config)
        self._drop_pending(pending_id)
        self.trial_configs[trial_id] = dict(config)  # WHY: stock forgot this line
        self.trial_observations[trial_id] = float(metric)

    def on_trial_error(self, trial_id: int):
        self.cleanup_pending(trial_id)

    def evaluation_failed(self, trial_id: int):
        self.cleanup_pending(trial_id)

    def cleanup_pending(self, trial_id: int):
        # A trial that errors before reporting anything cannot be matched to
        # its pending entry (on_trial_error carries no config); it then stays
        # pending and only acts as a fantasy point.
        self._drop_pending(self._pending_of_trial.pop(int(trial_id), None))

    def _drop_pending(self, pending_id: int | None) -> None:
        if pending_id is not None:
            self._pending_configs.pop(pending_id, None)
            self.pending_trials.discard(pending_id)

    def _match_pending(self, config: dict[str, Any]) -> int | None:
        """Oldest pending entry whose encoded hyperparameters equal ``config``'s.

        Compared in the encoded space so constants (dropped by the scheduler
        before calling back) and int/float casting do not matter.
        """
        if not self._pending_configs:
            return None
        try:
            x = self._hp_ranges.to_ndarray(config)
        except (KeyError, ValueError, TypeError):
            return None
        for pending_id in sorted(self._pending_configs, reverse=True):  # -1 (oldest) first
            if np.allclose(self._hp_ranges.to_ndarray(self._pending_configs[pending_id]), x, atol=1e-9):
                return pending_id
        return None

    def _configs_pending(self) -> list[dict]:  # same name as stock, for introspection
        return list(self._pending_configs.values())

    # -- suggestion ---------------------------------------------------------

    def suggest(self, **kwargs) -> dict | None:
        config = self._next_points_to_evaluate()
        if config is not None:
            self._record(POINTS_TO_EVALUATE)
        elif len(self.trial_observations) < self.num_minimum_observations:
            config = self._seeded_random_config()
            self._record(WARMUP)
        else:
            try:
                config = self._suggest_from_model()
                self._record(MODEL)
            except Exception as error:  # noqa: BLE001 - counted and logged, not swallowed
                if self.raise_on_error:
                    raise
                config = self._seeded_random_config()
                self._record(FALLBACK, error)
        if config is not None:
            self._pending_configs[self._next_pending_id] = config
            self.pending_trials.add(self._next_pending_id)
            self._next_pending_id -= 1
        return config

    def _training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Aligned (X in [0,1]^d, y) from the recorded trials, in one pass."""
        trial_ids = [t for t, y in self.trial_observations.items() if np.isfinite(y)]
        missing = [t for t in trial_ids if t not in self.trial_configs]
        if missing:
            raise ValueError(f"observations without a recorded config for trials {missing[:5]}")
        configs = [self.trial_configs[t] for t in trial_ids]
        y = np.array([self.trial_observations[t] for t in trial_ids], dtype=float)
        if self.max_num_observations is not None and len(y) > self.max_num_observations:
            keep = self.random_state.permutation(len(y))[: self.max_num_observations]
            configs = [configs[i] for i in keep]
            y = y[keep]
        return self._encode(configs), torch.as_tensor(y, dtype=self._dtype).reshape(-1, 1)

    def _encode(self, configs: list[dict]) -> torch.Tensor:
        bounds = np.asarray(self._hp_ranges.get_ndarray_bounds(), dtype=float)  # (d, 2)
        X = np.asarray(self._hp_ranges.to_ndarray_matrix(configs), dtype=float)
        X = (X - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
        return torch.as_tensor(X, dtype=self._dtype)

    def _build_gp(self, X: torch.Tensor, Y: torch.Tensor) -> SingleTaskGP:
        warp = Warp(d=X.shape[-1], indices=list(range(X.shape[-1]))) if self.input_warping else None
        train_Yvar = None if self.noise_variance is None else torch.full_like(Y, self.noise_variance)
        # Y is standardized by the caller; outcome_transform=None keeps best_f
        # and the noise variance on that same scale.
        return SingleTaskGP(X, Y, train_Yvar=train_Yvar, outcome_transform=None, input_transform=warp)

    def _fitted_gp(self):
        """The GP on the observations so far, fitted once per set of observations: several
        suggestions between two new results differ only in their pending points."""
        observed = len(self.trial_observations)
        if getattr(self, "_fit", None) is None or self._fit[0] != observed:
            X, y = self._training_data()
            Y = standardize(-y)  # botorch maximizes; Syne Tune searchers minimize
            gp = self._build_gp(X, Y)
            # one attempt of at most 100 L-BFGS iterations: botorch's default retries a fit that
            # warns up to 5 times from resampled hyperparameters, and on simulated curves (the
            # surrogate serves recorded values, so nearby configurations repeat them exactly)
            # most fits warned, which made fitting most of a run's time
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp), max_attempts=1,
                             optimizer_kwargs={"options": {"maxiter": 100}})
            self._fit = (observed, gp, Y, X.shape[-1])
        return self._fit[1:]

    def _suggest_from_model(self) -> dict:
        subsampled = self.max_num_observations is not None and len(self.trial_observations) > self.max_num_observations
        gp, Y, d = self._fitted_gp()
        X_pending = None
        if self.fantasising and not subsampled and self._pending_configs:
            X_pending = self._encode(list(self._pending_configs.values()))
        sampler = None if self.mc_samples is None else SobolQMCNormalSampler(torch.Size([self.mc_samples]))
        acq = qLogExpectedImprovement(model=gp, best_f=Y.max(), X_pending=X_pending, sampler=sampler)
        if self.optimization_strategy == "random":
            cand = torch.rand(self.num_raw_samples, 1, d, dtype=self._dtype)
            with torch.no_grad():
                best = cand[acq(cand).argmax()]
        else:
            bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(self._dtype)
            options = {} if self.max_iterations is None else {"maxiter": self.max_iterations}
            best, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=self.num_restarts,
                                    raw_samples=self.num_raw_samples, options=options)
        x = best.detach().cpu().numpy().reshape(-1)
        bounds_np = np.asarray(self._hp_ranges.get_ndarray_bounds(), dtype=float)
        return self._hp_ranges.from_ndarray(bounds_np[:, 0] + x * (bounds_np[:, 1] - bounds_np[:, 0]))


class CountingBoTorchSearcher(_CountingStockBoTorchMixin, BoTorchSearcher):
    """The stock searcher, counted (to measure its fallback)."""
