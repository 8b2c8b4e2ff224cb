"""The statistics every comparison uses, defined once.

- Final results are summarised by the interquartile mean (IQM: the mean of the middle half of
  the runs), robust to a few lucky or unlucky seeds and less noisy than the median, with a 95%
  percentile-bootstrap interval over seeds (Agarwal et al., "Deep RL at the Edge of the
  Statistical Precipice", NeurIPS 2021).
- Time to target is censored: a run that never reaches the target counts as taking forever
  (+inf), never as missing. Its summary is the median (infinite when half the runs or more
  missed) and the fraction of runs that reached the target by each time (an empirical CDF).
- Differences between methods are paired by seed: the bootstrap resamples seeds, not runs, and
  recomputes the difference of the summaries; a difference is resolved when its interval
  excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


def iqm(values, axis: int = -1):
    """Interquartile mean: the mean of the values between the 25% and 75% quantiles (a quarter
    of them, rounded down, cut from each end, as scipy's trim_mean(values, 0.25) does), along
    `axis`: a whole matrix of bootstrap samples at once. NaN where a value is NaN, as there."""
    values = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = values.shape[axis]
    cut = int(0.25 * n)
    middle = np.take(values, range(cut, n - cut), axis=axis).mean(axis=axis)
    # sorting puts NaN last, where the cut could drop it
    return np.where(np.isnan(values).any(axis=axis), np.nan, middle)


def censored_median(times, axis: int = -1):
    """Median time to target along `axis`, a miss counting as +inf."""
    return np.median(np.asarray(times, dtype=float), axis=axis)


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    """The central 95% of bootstrap samples (NaN ones dropped). Taken as order statistics, not
    interpolated, so that infinite samples (censored medians) stay infinite, not NaN."""
    samples = samples[~np.isnan(samples)]
    if len(samples) == 0:
        return math.nan, math.nan
    tail = (1 - CONFIDENCE) / 2 * 100
    low = np.percentile(samples, tail, method="lower")
    high = np.percentile(samples, 100 - tail, method="higher")
    return float(low), float(high)


def bootstrap_interval(values: Sequence[float], statistic: Callable, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of `statistic` (computed along the last axis, like
    `iqm`) over resamples of the values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(BOOTSTRAP_SAMPLES, len(values)))
    return _percentiles(statistic(values[picks], axis=-1))


def paired_difference(a: Sequence[float], b: Sequence[float], statistic: Callable,
                      seed: int = 0) -> tuple[float, float, float]:
    """statistic(a) - statistic(b) for runs paired by seed (a[i] and b[i] share seed i), with
    a 95% bootstrap interval that resamples the seeds. Infinite statistics (a censored median
    that missed) make infinite differences; inf - inf is undefined and dropped."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b):
        raise ValueError("paired runs need the same seeds")
    with np.errstate(invalid="ignore"):
        point = float(statistic(a) - statistic(b))
        if len(a) < 2 or math.isnan(point):
            # undefined (both never reached the target): no interval, so never "resolved" on
            # the few resamples that happen to be defined
            return point, math.nan, math.nan
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(a), size=(BOOTSTRAP_SAMPLES, len(a)))
        samples = statistic(a[picks], axis=-1) - statistic(b[picks], axis=-1)
    return (point, *_percentiles(samples))


def resolved(low: float, high: float) -> bool:
    """Whether an interval excludes 0 (a difference the seeds can tell)."""
    return not math.isnan(low) and (low > 0 or high < 0)


def fraction_reached(times: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """Empirical CDF of censored times: the fraction of runs that reached the target by each
    time of `grid` (misses, +inf, never count)."""
    times = np.asarray(times, dtype=float)
    return (times[None, :] <= grid[:, None]).mean(axis=1)


@dataclass(frozen=True)
class Summary:
    """A statistic over runs with its 95% bootstrap interval."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        def clean(x):
            return None if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))

        return {"value": clean(self.value), "ci95": [clean(self.low), clean(self.high)], "n": self.n}


def summarize(values: Sequence[float], statistic: Callable[[np.ndarray], float]) -> Summary:
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    return Summary(float(statistic(values)), *bootstrap_interval(values, statistic), n=len(values))
