"""Analyse a comparison written by experiments/compare.py: which method finds good
configurations sooner, and how busy each keeps its workers.

    python -m analysis.compare latest                 # table, plus PNG/CSV/Markdown files
    python -m analysis.compare NAME -o report/ --target-error 0.25
    python -m analysis.compare latest --json          # the table for scripts

Figures: best validation error so far against wall-clock time (mean over seeds with a 95%
bootstrap band), a worker timeline per method (one seed), and per-trial learning curves with
the rung levels marked. Table per method: final best validation error, time to reach a target
error, trials started, epochs trained, worker utilization and idle worker-seconds.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.experiment_folder import RUNG_LEVELS, max_resource_of, metric_of
from analysis.experiments import (
    ExperimentNotFound,
    add_results_dir_flag,
    default_results_dir,
    list_experiment_dirs,
    load,
)
from objectives.usage import UsageError, run_command
from analysis.metrics import stopped_early, trial_segments, wallclock_seconds, worker_utilization

GRID_POINTS = 200
BOOTSTRAP_SAMPLES = 2000
RUN_FIELDS = ("final_best_validation_error", "time_to_target_s", "trials", "epochs",
              "worker_utilization", "idle_worker_s")


@dataclass
class Run:
    method: str
    seed: int
    experiment: object  # syne_tune ExperimentResult

    @property
    def results(self) -> pd.DataFrame:
        return self.experiment.results

    @property
    def metadata(self) -> dict:
        return self.experiment.metadata


# ---------------------------------------------------------------------------------------------
# Finding and loading
# ---------------------------------------------------------------------------------------------


def _read_metadata(path: Path) -> dict:
    try:
        return json.loads((path / "metadata.json").read_text())
    except (OSError, ValueError):
        return {}


def resolve_comparison(spec: str, results_dir: Path | None = None) -> str:
    """The comparison name for SPEC: a name, a unique prefix, or `latest`."""
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    names = []  # oldest first
    for path in list_experiment_dirs(results_dir):
        name = _read_metadata(path).get("comparison")
        if name and name not in names:
            names.append(name)
        elif name:
            names.append(names.pop(names.index(name)))
    if not names:
        raise ExperimentNotFound(
            f"no comparisons in {results_dir}: run experiments/compare.py first, or pass --results-dir"
        )
    if spec == "latest":
        return names[-1]
    if spec in names:
        return spec
    matches = [n for n in names if n.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ExperimentNotFound(f"no comparison named {spec!r} in {results_dir}; the newest is {names[-1]}")
    raise ExperimentNotFound(f"{spec!r} matches comparisons {', '.join(matches[:5])}: be more specific")


def load_runs(name: str, results_dir: Path | None = None) -> list[Run]:
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    runs = []
    for path in list_experiment_dirs(results_dir):
        metadata = _read_metadata(path)
        if metadata.get("comparison") == name:
            experiment = load(str(path))
            runs.append(Run(metadata.get("method", metadata.get("scheduler")), int(metadata["seed"]), experiment))
    if not runs:
        raise ExperimentNotFound(f"comparison {name!r} has no experiments in {results_dir}")
    return sorted(runs, key=lambda r: (r.method, r.seed))


# ---------------------------------------------------------------------------------------------
# Figures per run and per method
# ---------------------------------------------------------------------------------------------


def best_so_far(run: Run, times: np.ndarray) -> np.ndarray:
    """Best validation error reported up to each time (NaN before the first report)."""
    metric = run.metadata.get("metric", "validation_error")
    results = run.results
    if results is None or results.empty:
        return np.full(len(times), np.nan)
    ordered = results.sort_values("st_tuner_time")
    best = ordered[metric].cummin().to_numpy()
    index = np.searchsorted(ordered["st_tuner_time"].to_numpy(), times, side="right") - 1
    return np.where(index >= 0, best[np.clip(index, 0, None)], np.nan)


def run_figures(run: Run, target_error: float) -> dict:
    results = run.results
    metadata = run.metadata
    segments = trial_segments(results, metadata)
    wallclock = wallclock_seconds(results, segments)
    n_workers = int(metadata.get("n_workers", 1))
    busy = float((segments["end_s"] - segments["start_s"]).clip(lower=0).sum())
    figures = {
        "seed": run.seed,
        "experiment": run.experiment.name,
        "final_best_validation_error": None,
        "time_to_target_s": None,
        "trials": 0,
        "epochs": 0,
        "worker_utilization": worker_utilization(segments, n_workers, wallclock),
        "idle_worker_s": round(max(n_workers * wallclock - busy, 0.0), 2),
    }
    if results is None or results.empty:
        return figures
    metric = metadata.get("metric", "validation_error")
    ordered = results.sort_values("st_tuner_time")
    reached = ordered[ordered[metric].cummin() <= target_error]
    figures.update(
        final_best_validation_error=float(ordered[metric].min()),
        time_to_target_s=None if reached.empty else round(float(reached["st_tuner_time"].iloc[0]), 2),
        trials=int(results["trial_id"].nunique()),
        epochs=int(len(results)),
    )
    if figures["worker_utilization"] is not None:
        figures["worker_utilization"] = round(figures["worker_utilization"], 4)
    return figures


def mean_interval(values: list) -> dict:
    """Mean, standard deviation and a 95% bootstrap interval of the mean (None where fewer
    than two values)."""
    present = np.array([v for v in values if v is not None], dtype=float)
    summary = {"n": int(len(present)), "mean": None, "std": None, "ci95": None}
    if len(present) == 0:
        return summary
    summary["mean"] = float(present.mean())
    if len(present) >= 2:
        summary["std"] = float(present.std(ddof=1))
        rng = np.random.default_rng(0)
        means = rng.choice(present, size=(BOOTSTRAP_SAMPLES, len(present))).mean(axis=1)
        summary["ci95"] = [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]
    return summary


def compare(name: str, results_dir: Path | None = None, target_error: float | None = None) -> dict:
    """The comparison as one JSON-ready dict (see the module docstring)."""
    name = resolve_comparison(name, results_dir)
    runs = load_runs(name, results_dir)
    finals = [r.results[r.metadata.get("metric", "validation_error")].min()
              for r in runs if r.results is not None and not r.results.empty]
    if target_error is None:
        target_error = float(np.median(finals)) if finals else 1.0
    methods = {}
    for method in sorted({r.method for r in runs}):
        per_run = [run_figures(r, target_error) for r in runs if r.method == method]
        summary = {field: mean_interval([f[field] for f in per_run]) for field in RUN_FIELDS}
        summary["time_to_target_s"]["reached"] = f"{summary['time_to_target_s']['n']}/{len(per_run)}"
        methods[method] = {"runs": per_run, "summary": summary}
    first = runs[0].metadata
    return {
        "comparison": name,
        "objective": first.get("objective"),
        "n_workers": first.get("n_workers"),
        "max_wallclock_time": first.get("max_wallclock_time"),
        "smoke": bool(first.get("smoke", False)),
        "simulated": bool(first.get("simulated", False)),
        "target_error": target_error,
        "methods": methods,
    }


def table_frame(comparison: dict) -> pd.DataFrame:
    """One row per method: mean ± std over seeds and the 95% interval of each figure."""
    rows = []
    for method, entry in comparison["methods"].items():
        row = {"method": method, "seeds": len(entry["runs"])}
        for field in RUN_FIELDS:
            s = entry["summary"][field]
            if s["mean"] is None:
                text = "-"
            else:
                text = f"{s['mean']:.4g}"
                if s["std"] is not None:
                    text += f" ± {s['std']:.2g} [{s['ci95'][0]:.4g}, {s['ci95'][1]:.4g}]"
            if field == "time_to_target_s":
                text += f" (reached {s['reached']})"
            row[field] = text
        rows.append(row)
    return pd.DataFrame(rows)


def format_table(comparison: dict) -> str:
    header = (f"Comparison {comparison['comparison']}: {comparison['objective']}, "
              f"{comparison['n_workers']} workers, {comparison['max_wallclock_time']} s per run, "
              f"target error {comparison['target_error']:.4f} (mean ± std [95% interval])")
    return header + "\n" + table_frame(comparison).to_string(index=False)


def to_markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def plot_best_so_far(runs: list[Run], comparison: dict, ax=None):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    horizon = max(float(r.metadata.get("max_wallclock_time", 0)) for r in runs)
    times = np.linspace(0, horizon, GRID_POINTS)
    for method in comparison["methods"]:
        curves = np.array([best_so_far(r, times) for r in runs if r.method == method])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves, axis=0)
        line, = ax.plot(times, mean, label=f"{method} (mean of {len(curves)} seeds)", linewidth=2)
        if len(curves) >= 2:
            low, high = bootstrap_band(curves)
            ax.fill_between(times, low, high, color=line.get_color(), alpha=0.2)
    ax.axhline(comparison["target_error"], color="gray", linestyle=":", label="target error")
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel("best validation error so far")
    title = f"{comparison['comparison']}: 95% bootstrap band over seeds"
    if comparison["smoke"]:
        title += " (synthetic data)"
    if comparison["simulated"]:
        title += " (simulated from recorded curves)"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def bootstrap_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% bootstrap interval of the mean over seeds (rows), per time point (columns)."""
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(curves), size=(BOOTSTRAP_SAMPLES, len(curves)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before first reports
        means = np.nanmean(curves[picks], axis=1)
        return np.nanpercentile(means, 2.5, axis=0), np.nanpercentile(means, 97.5, axis=0)


def first_seed_per_method(runs: list[Run]) -> list[Run]:
    chosen = {}
    for run in runs:
        chosen.setdefault(run.method, run)
    return list(chosen.values())


def plot_worker_timelines(runs: list[Run]):
    """Gantt chart per method (its first seed): which worker ran which trial when."""
    import matplotlib.pyplot as plt

    shown = first_seed_per_method(runs)
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.2 + 1.1 * sum(
        int(r.metadata.get("n_workers", 1)) for r in shown)), squeeze=False, sharex=True)
    cmap = plt.get_cmap("tab20")
    for ax, run in zip(axes[:, 0], shown):
        segments = trial_segments(run.results, run.metadata)
        n_workers = int(run.metadata.get("n_workers", 1))
        wallclock = wallclock_seconds(run.results, segments)
        for _, seg in segments.iterrows():
            worker = seg["worker"] if seg["worker"] >= 0 else 0
            ax.barh(worker, seg["end_s"] - seg["start_s"], left=seg["start_s"], height=0.8,
                    color=cmap(int(seg["trial_id"]) % 20), edgecolor="black", linewidth=0.4)
            if seg["end_s"] - seg["start_s"] > wallclock / 40:
                ax.text((seg["start_s"] + seg["end_s"]) / 2, worker, str(int(seg["trial_id"])),
                        ha="center", va="center", fontsize=7)
        utilization = worker_utilization(segments, n_workers, wallclock) or 0.0
        ax.set_yticks(range(n_workers), [f"worker {w}" for w in range(n_workers)])
        ax.set_title(f"{run.method}, seed {run.seed}: utilization {utilization:.1%} "
                     "(white = idle worker; numbers = trial ids)", fontsize=9)
        ax.set_xlim(0, wallclock)
    axes[-1, 0].set_xlabel("wall-clock time (s)")
    fig.tight_layout()
    return fig


def plot_rung_curves(runs: list[Run]):
    """Learning curves over epochs per method (first seed), rung levels marked: × where a
    trial was stopped, ▲ where a paused trial was promoted (resumed)."""
    import matplotlib.pyplot as plt

    shown = first_seed_per_method(runs)
    fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 4.5), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], shown):
        metadata, results = run.metadata, run.results
        metric = metadata.get("metric", "validation_error")
        max_t = max_resource_of(metadata, results)
        for level in metadata.get(RUNG_LEVELS) or []:  # written by rung schedulers only
            ax.axvline(level, color="gray", linestyle=":", linewidth=1)
        if results is not None and not results.empty:
            for _, trial in results.sort_values("epoch").groupby("trial_id"):
                ax.plot(trial["epoch"], trial[metric], linewidth=1, alpha=0.6, marker=".")
                promoted = trial[(trial["st_decision"] == "PAUSE") & (trial["epoch"] < trial["epoch"].max())]
                ax.scatter(promoted["epoch"], promoted[metric], marker="^", color="green", zorder=3, s=25)
            stopped = stopped_early(results, "epoch", max_t)
            last = results.sort_values("epoch").groupby("trial_id").tail(1)
            last = last[last["trial_id"].isin(stopped)]
            ax.scatter(last["epoch"], last[metric], marker="x", color="black", zorder=3, s=30)
        ax.set_title(f"{run.method}, seed {run.seed} (dotted: rung levels)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(metric.replace("_", " "))
    axes[0, 0].scatter([], [], marker="x", color="black", label="stopped at a rung")
    axes[0, 0].scatter([], [], marker="^", color="green", label="paused, then promoted")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_report(comparison: dict, runs: list[Run], out_dir: Path) -> list[Path]:
    """PNG figures, CSV and Markdown table into out_dir; returns the files written."""
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, figure in (
        ("best_so_far.png", plot_best_so_far(runs, comparison)),
        ("worker_timeline.png", plot_worker_timelines(runs)),
        ("rung_curves.png", plot_rung_curves(runs)),
    ):
        figure.savefig(out_dir / filename, dpi=120, bbox_inches="tight")
        plt.close(figure)
        written.append(out_dir / filename)
    frame = table_frame(comparison)
    frame.to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(to_markdown(frame))
    (out_dir / "comparison.json").write_text(json.dumps(comparison, indent=1))
    return written + [out_dir / "table.csv", out_dir / "table.md", out_dir / "comparison.json"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Analyse a comparison of schedulers.")
    parser.add_argument("comparison", help="name, unique prefix, or 'latest'")
    parser.add_argument("-o", "--output-dir", type=Path, default=None,
                        help="where figures and tables go (default RESULTS_DIR/COMPARISON-report)")
    add_results_dir_flag(parser)
    parser.add_argument("--target-error", type=float, default=None,
                        help="error for time-to-target (default: median of all runs' final best)")
    parser.add_argument("--json", action="store_true", help="print the table as one JSON object")
    args = parser.parse_args(argv)
    def analyse():
        if args.target_error is not None and not 0 <= args.target_error <= 1:
            raise UsageError(f"--target-error {args.target_error}: must be in [0, 1]")
        comparison = compare(args.comparison, args.results_dir, args.target_error)
        return comparison, load_runs(comparison["comparison"], args.results_dir)

    comparison, runs = run_command(analyse)
    if args.json:
        print(json.dumps(comparison, indent=1))
        return
    results_dir = args.results_dir or default_results_dir()
    out_dir = args.output_dir or Path(results_dir) / f"{comparison['comparison']}-report"
    written = write_report(comparison, runs, out_dir)
    print(format_table(comparison))
    print("\nwrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
