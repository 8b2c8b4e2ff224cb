"""Scaling with workers (experiments/scaling.py runs it): time to target and speed-up.

The runs of a scaling study are comparisons named STUDY-wWORKERS, one per worker count. Per
method and worker count: the median time to target over seeds (a run that never reaches the
target counts as never: the censored median of `analysis.statistics`) with its 95% bootstrap
interval, and the speed-up over the fewest workers, median(t at W0) / median(t at W) x W0,
beside the ideal W.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.comparison import TIME_TO_TARGET, Comparison, compare
from analysis.experiments import comparison_names
from analysis.tables import frame_markdown


def scaling_comparisons(study: str, results_dir: Path) -> dict[int, str]:
    pattern = re.compile(rf"{re.escape(study)}-w(\d+)$")
    found = {int(m.group(1)): name for name in comparison_names(results_dir)
             if (m := pattern.match(name))}
    return dict(sorted(found.items()))


@dataclass
class ScalingTable:
    """A scaling study's table (scaling.csv): one row per method and worker count, with the
    median time to target [low, high], seeds that reached it, the speed-up over the fewest
    workers beside the ideal, and efficiency (speed-up / ideal)."""

    study: str
    target: float
    frame: pd.DataFrame

    def to_csv(self, path: Path) -> None:
        self.frame.to_csv(path, index=False)

    def to_json(self) -> list[dict]:
        return self.frame.to_dict("records")

    def to_markdown(self) -> str:
        return frame_markdown(self.frame)


def scaling_rows(comparison: Comparison, workers: int) -> list[dict]:
    """Per method of one worker count's comparison: its time to target and what it cost."""
    rows = []
    for method, entry in comparison.methods.items():
        time = entry.summary[TIME_TO_TARGET]
        rows.append({"method": method, "workers": workers, "seeds": time.runs, "reached": time.reached,
                     "median_time_to_target_s": time.value, "low": time.ci95[0], "high": time.ci95[1],
                     "target": comparison.target, "trials": entry.summary["trials"].value,
                     "worker_utilization": entry.summary["worker_utilization"].value})
    return rows


def scaling_table(study: str, results_dir: Path, target: float | None = None) -> ScalingTable:
    """The table of the scaling study's comparisons STUDY-wN in `results_dir`."""
    found = scaling_comparisons(study, results_dir)
    if not found:
        raise ValueError(f"no scaling runs named {study}-wN in {results_dir}")
    comparisons = {workers: compare(name, results_dir, target) for workers, name in found.items()}
    rows = [row for workers, comparison in comparisons.items() for row in scaling_rows(comparison, workers)]
    table = pd.DataFrame(rows).sort_values(["method", "workers"]).reset_index(drop=True)
    table["ideal_speedup"] = np.nan
    table["speedup"] = np.nan
    for method, rows_of_method in table.groupby("method"):
        base = rows_of_method.iloc[0]
        ideal = rows_of_method["workers"] / base["workers"]
        speedup = base["median_time_to_target_s"] / rows_of_method["median_time_to_target_s"]
        table.loc[rows_of_method.index, "ideal_speedup"] = ideal
        table.loc[rows_of_method.index, "speedup"] = speedup.where(np.isfinite(speedup))
    table["efficiency"] = table["speedup"] / table["ideal_speedup"]
    return ScalingTable(study, next(iter(comparisons.values())).target, table)


def scaling_figure(scaling: ScalingTable, title: str):
    """Left: median time to target against workers (log-log), each method's ideal line from
    its fewest workers dotted. Right: speed-up against the ideal (the diagonal)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, ScalarFormatter

    from analysis.comparison_plots import method_styles

    table = scaling.frame
    styles = method_styles(sorted(table["method"].unique()))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for method, rows in table.groupby("method"):
        color = styles[method]["color"]
        finite = rows[np.isfinite(rows["median_time_to_target_s"])]
        left.plot(finite["workers"], finite["median_time_to_target_s"], marker="o", **styles[method], label=method)
        bounded = finite[np.isfinite(finite["high"])]
        left.fill_between(bounded["workers"], bounded["low"], bounded["high"], color=color, alpha=0.15, linewidth=0)
        base = rows.iloc[0]
        if math.isfinite(base["median_time_to_target_s"]):
            left.plot(rows["workers"], base["median_time_to_target_s"] * base["workers"] / rows["workers"],
                      linestyle=":", color=color, linewidth=1)
        right.plot(rows["workers"], rows["speedup"], marker="o", **styles[method], label=method)
    workers = np.array(sorted(table["workers"].unique()))
    right.plot(workers, workers / workers[0], linestyle=":", color="gray", label="ideal (linear)")

    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2 if ax is right else 10)
        ax.xaxis.set_major_locator(FixedLocator(workers))
        ax.xaxis.set_major_formatter(ScalarFormatter())  # 1, 2, 4, ... rather than 2^k
        ax.set_xlabel("workers")
        ax.grid(alpha=0.3, which="both")
    right.yaxis.set_major_formatter(ScalarFormatter())
    # seconds as numbers, not 6 x 10^2; between powers of ten only 2 and 5 are labelled
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}" if v > 0 and f"{v:e}"[0] in "25" else ""))
    left.set_ylabel(f"median time to validation error <= {scaling.target:.4g}\n(simulated s; dotted: ideal)")
    right.set_ylabel(f"speed-up over {workers[0]} worker{'s' if workers[0] > 1 else ''}")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
