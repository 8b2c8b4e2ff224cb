"""Figures of a comparison: how fast each method closes in on the best result (with the
uncertainty over seeds), how soon its runs reach the target, which worker ran what when, and
where the rung schedulers stopped and promoted trials."""

from __future__ import annotations

import math
import warnings

import numpy as np

from analysis import experiment_folder as folder
from analysis import statistics as stats
from analysis.comparison import TIME_TO_TARGET, Comparison, Run, best_so_far, censored
from analysis.metrics import stopped_early, trial_segments, wallclock_seconds, worker_utilization

GRID_POINTS = 200
# A regret below this is drawn at this value (a log axis has no 0).
REGRET_FLOOR = 1e-4


def time_label(simulated: bool) -> str:
    return "simulated time (s)" if simulated else "tuner time (s)"


# The same colour for a method in every figure; the asynchronous methods in solid lines, the
# synchronous ones dashed, random search dotted, the other libraries' (peers) dash-dotted
# (method_styles).
KNOWN_COLORS = {
    "asha": "#1f77b4", "hyperband": "#17becf", "bohb": "#2ca02c", "asha_bore": "#bcbd22",
    "asha_cqr": "#9467bd", "asha_gp": "#e377c2", "sync_sh": "#d62728", "sync_sh_waiting": "#ff7f0e",
    "sync_hyperband": "#8c564b", "sync_bohb": "#7f7f7f", "random_search": "#000000",
    "ray_tune_asha": "#aec7e8", "optuna_tpe_sha": "#393b79", "optuna_tpe_hyperband": "#637939",
    "optuna_tpe_median": "#8c6d31", "smac_hyperband": "#843c39", "dehb": "#7b4173",
}
PEER_PREFIXES = ("optuna_", "smac_", "dehb")


def method_colors(methods) -> dict:
    import matplotlib.pyplot as plt

    from matplotlib.colors import to_hex

    # another method takes a colour no known method has
    free = [c for c in map(to_hex, plt.get_cmap("tab20").colors) if c not in KNOWN_COLORS.values()]
    others = [m for m in methods if m not in KNOWN_COLORS]
    return {m: KNOWN_COLORS.get(m) or free[others.index(m) % len(free)] for m in methods}


def method_styles(methods) -> dict:
    """matplotlib line keywords per method: its colour and a dash pattern by family."""
    colors = method_colors(methods)
    def dashes(m: str) -> str:
        return "--" if m.startswith("sync") else ":" if m == "random_search" else "-." if m.startswith(PEER_PREFIXES) else "-"

    return {m: {"color": colors[m], "linestyle": dashes(m)} for m in methods}


def iqm_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per time point (columns): the IQM over seeds (rows) and its 95% bootstrap interval; NaN
    until every seed has reported."""
    centre = stats.iqm(curves, axis=0)
    if len(curves) < 2:
        return centre, centre, centre
    picks = np.random.default_rng(0).integers(0, len(curves), size=(stats.BOOTSTRAP_SAMPLES, len(curves)))
    boot = stats.iqm(curves[picks], axis=1)  # (samples, times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before the first reports
        return centre, np.nanpercentile(boot, 2.5, axis=0), np.nanpercentile(boot, 97.5, axis=0)


def horizon_of(runs: list[Run]) -> float:
    """Where the time axis ends: the longest wall-clock budget, or where the runs that were
    limited by counts (results, trials) ended."""
    def end(run: Run) -> float:
        budget = run.metadata.get(folder.BUDGET_S)
        if budget is not None:
            return float(budget)
        return float(run.results["st_tuner_time"].max()) if run.results is not None and not run.results.empty else 0.0

    return max(end(r) for r in runs)


def plot_best_so_far(runs: list[Run], comparison: Comparison, ax=None, legend: bool = True):
    """Regret (distance of the best result so far from the best any run found), IQM over seeds
    with its 95% bootstrap band, on a log axis: the differences that matter are small."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    mode = comparison.mode
    horizon = horizon_of(runs)
    times = np.linspace(0, horizon, GRID_POINTS)
    curves = {m: np.array([best_so_far(r, times) for r in runs if r.method == m]) for m in comparison.methods}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best_known = min(np.nanmin(c) for c in curves.values()) if mode == "min" else max(
            np.nanmax(c) for c in curves.values())
    styles = method_styles(comparison.methods)
    for method, c in curves.items():
        regret = np.clip((c - best_known) if mode == "min" else (best_known - c), REGRET_FLOOR, None)
        centre, low, high = iqm_band(regret)
        ax.plot(times, centre, **styles[method], linewidth=2,
                label=f"{method} (IQM of {len(c)} seeds)")
        if len(c) >= 2:
            ax.fill_between(times, low, high, color=styles[method]["color"], alpha=0.15, linewidth=0)
    target_regret = abs(comparison.target - best_known)
    if math.isfinite(target_regret) and target_regret > REGRET_FLOOR:
        ax.axhline(target_regret, color="gray", linestyle=":", label="target")
    ax.set_yscale("log")
    ax.set_xlabel(time_label(comparison.simulated))
    ax.set_ylabel(f"best {comparison.metric} so far\nminus the best found ({best_known:.4g}), log scale")
    ax.set_title(f"{comparison.n_workers} workers: IQM over seeds, 95% bootstrap band", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    if legend:
        ax.legend(fontsize=8)
    return ax.figure


def plot_reached(runs: list[Run], comparison: Comparison, ax=None, legend: bool = True):
    """Empirical CDF of time to target: the fraction of seeds that reached it by each time (a
    run that never reaches it keeps the curve below 1)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    horizon = horizon_of(runs)
    grid = np.linspace(0, horizon, GRID_POINTS)
    styles = method_styles(comparison.methods)
    for method, entry in comparison.methods.items():
        times = censored([r[TIME_TO_TARGET] for r in entry.runs])
        ax.step(grid, stats.fraction_reached(times, grid), where="post", **styles[method],
                linewidth=2, label=method)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(time_label(comparison.simulated))
    ax.set_ylabel(f"fraction of seeds with\n{comparison.metric} at the target")
    ax.set_title(f"reaching {comparison.metric} {comparison.target:.4g}", fontsize=9)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    return ax.figure


def comparison_figure(runs: list[Run], comparison: Comparison):
    """The two answers side by side: how close, and how soon."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    plot_best_so_far(runs, comparison, left, legend=True)
    plot_reached(runs, comparison, right, legend=False)
    what = "simulated from recorded curves" if comparison.simulated else (
        "synthetic data" if comparison.smoke else "real data")
    fig.suptitle(f"{comparison.objective}, {what}: {comparison.comparison}", fontsize=10)
    fig.tight_layout()
    return fig


def first_seed_per_method(runs: list[Run]) -> list[Run]:
    chosen = {}
    for run in runs:
        chosen.setdefault(run.method, run)
    return list(chosen.values())


def plot_worker_timelines(runs: list[Run]):
    """Gantt chart per method (its first seed): which worker ran which trial when; white is an
    idle worker."""
    import matplotlib.pyplot as plt

    shown = first_seed_per_method(runs)
    workers = [int(r.metadata.get(folder.N_WORKERS, 1)) for r in shown]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.2 + sum(0.35 * w + 0.6 for w in workers)),
                             squeeze=False, sharex=True)
    cmap = plt.get_cmap("tab20")
    for ax, run, n_workers in zip(axes[:, 0], shown, workers):
        segments = trial_segments(run.results, run.metadata)
        wallclock = wallclock_seconds(run.results, segments)
        for _, seg in segments.iterrows():
            worker = seg["worker"] if seg["worker"] >= 0 else 0
            ax.barh(worker, seg["end_s"] - seg["start_s"], left=seg["start_s"], height=0.8,
                    color=cmap(int(seg["trial_id"]) % 20), edgecolor="black", linewidth=0.3)
            if n_workers <= 8 and seg["end_s"] - seg["start_s"] > wallclock / 40:
                ax.text((seg["start_s"] + seg["end_s"]) / 2, worker, str(int(seg["trial_id"])),
                        ha="center", va="center", fontsize=6)
        utilization = worker_utilization(segments, n_workers, wallclock) or 0.0
        ax.set_yticks(range(n_workers), [f"w{w}" for w in range(n_workers)], fontsize=7)
        ax.set_title(f"{run.method}, seed {run.seed}: workers busy {utilization:.1%} of the time "
                     "(white: idle; numbers: trial ids)", fontsize=9)
        ax.set_xlim(0, wallclock)
    axes[-1, 0].set_xlabel(time_label(bool(shown[0].metadata.get(folder.SIMULATED))))
    fig.tight_layout()
    return fig


def plot_rung_curves(runs: list[Run]):
    """Learning curves over the resource per rung method (first seed), rung levels dotted:
    x where a trial was stopped, ^ where a paused trial was promoted (resumed)."""
    import matplotlib.pyplot as plt

    shown = [r for r in first_seed_per_method(runs) if r.metadata.get(folder.RUNG_LEVELS)]
    if not shown:
        return None
    fig, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 4.3), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], shown):
        metadata, results = run.metadata, run.results
        metric, resource = folder.metric_of(metadata), folder.resource_attr_of(metadata)
        max_t = folder.max_resource_of(metadata, results)
        for level in metadata[folder.RUNG_LEVELS]:
            ax.axvline(level, color="gray", linestyle=":", linewidth=1)
        if results is not None and not results.empty:
            for _, trial in results.sort_values(resource).groupby("trial_id"):
                ax.plot(trial[resource], trial[metric], linewidth=0.8, alpha=0.5, color="tab:blue")
                promoted = trial[(trial["st_decision"] == "PAUSE") & (trial[resource] < trial[resource].max())]
                ax.scatter(promoted[resource], promoted[metric], marker="^", color="green", zorder=3, s=22)
            stopped = stopped_early(results, resource, max_t)
            last = results.sort_values(resource).groupby("trial_id").tail(1)
            last = last[last["trial_id"].isin(stopped)]
            ax.scatter(last[resource], last[metric], marker="x", color="black", zorder=3, s=26)
            low, high = results[metric].quantile([0.0, 0.9])
            ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))  # the 0.9 plateau clipped
        ax.set_title(f"{run.method}, seed {run.seed}", fontsize=9)
        ax.set_xlabel(f"{resource} (dotted: rung levels)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(metric.replace("_", " "))
    axes[0, 0].scatter([], [], marker="x", color="black", label="stopped at a rung")
    axes[0, 0].scatter([], [], marker="^", color="green", label="paused, then promoted")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig
