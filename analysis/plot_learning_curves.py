"""Plot every trial's metric against tuner time: the best trial highlighted, trials the scheduler
stopped early faded, the best so far on top.

    python -m analysis.plot_learning_curves latest -o curves.png
    python -m analysis.plot_learning_curves COMPARISON -o curves.png   # first seed of each method

EXPERIMENT is an experiment's name, a unique name prefix, its folder, `latest`, or a
comparison's name (then one panel per method, its first seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt

from analysis import experiment_folder as folder
from analysis.experiments import add_results_dir_flag, load, resolve_runs
from analysis.figure_files import check_output_file, save_figure
from analysis.metrics import stopped_early
from objectives.usage import run_command

# Quantile of all reported values up to which the axis reaches: above it lie the plateau of
# diverged or untrained trials (0.9 error for sigmoid LeNet), which would flatten what matters.
AXIS_QUANTILE = 0.5


def time_label(metadata: dict) -> str:
    return "simulated time (s)" if metadata.get(folder.SIMULATED) else "tuner time (s)"


def plot_learning_curves(experiment, ax=None):
    """Draw on `ax` (a new figure if None) and return the figure.

    `experiment` is a Syne Tune `ExperimentResult` (see `analysis.experiments.load`).
    """
    metadata = experiment.metadata or {}
    results = experiment.results
    metric, mode = folder.metric_of(metadata), folder.mode_of(metadata)
    resource_attr = folder.resource_attr_of(metadata)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    if results is None or results.empty or metric not in results:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return ax.figure
    results = results.sort_values("st_tuner_time")
    max_t = folder.max_resource_of(metadata, results)
    stopped = stopped_early(results, resource_attr, max_t)
    best = folder.best_row(results, metadata)
    best_trial = int(best["trial_id"])
    for trial_id, trial in results.groupby("trial_id"):
        faded = trial_id in stopped
        ax.plot(trial["st_tuner_time"], trial[metric], linewidth=0.8, color="tab:gray" if faded else "tab:blue",
                alpha=0.35 if faded else 0.8, marker="." if len(trial) < 30 else None, markersize=3)
    last = results.groupby("trial_id").tail(1)
    last_stopped = last[last["trial_id"].isin(stopped)]
    ax.scatter(last_stopped["st_tuner_time"], last_stopped[metric], marker="x", color="black", s=25,
               zorder=3, alpha=0.6, label=f"stopped early by {metadata.get(folder.SCHEDULER, 'the scheduler')}")
    best_curve = results[results["trial_id"] == best_trial]
    ax.plot(best_curve["st_tuner_time"], best_curve[metric], color="tab:orange", linewidth=2.5,
            zorder=4, label=f"best trial ({best_trial}): {metric} {best[metric]:.4g}")
    # a diverged report (missing value) leaves the best so far as it was
    running_best = (results[metric].cummin() if mode == "min" else results[metric].cummax()).ffill()
    ax.step(results["st_tuner_time"], running_best, where="post", color="red", linewidth=1.5,
            alpha=0.8, zorder=5, label="best so far")
    ax.plot([], [], color="tab:blue", label="a trial")
    ax.plot([], [], color="tab:gray", alpha=0.5, label="a trial stopped early")
    values = results[metric]
    low, high = (values.min(), values.quantile(AXIS_QUANTILE)) if mode == "min" else (
        values.quantile(1 - AXIS_QUANTILE), values.max())
    margin = 0.05 * (high - low or 1.0)
    ax.set_ylim(low - margin, high + margin)
    diverged = results[results[metric].isna()]  # NaN or infinite reports, read as missing
    if not diverged.empty:  # drawn on the edge of the worse side, where no value can sit
        ax.scatter(diverged["st_tuner_time"], [high + margin / 2 if mode == "min" else low - margin / 2] * len(diverged),
                   marker="^" if mode == "min" else "v", color="tab:purple", s=25, zorder=3,
                   label=f"diverged ({metric} NaN or infinite)")
    what = "simulated from recorded curves" if metadata.get(folder.SIMULATED) else (
        "synthetic data" if metadata.get(folder.SMOKE) else "")
    title = f"{metadata.get(folder.OBJECTIVE, '')}, {metadata.get(folder.SCHEDULER, '')}" + (
        f", {what}" if what else "")
    ax.set_title(f"{title}\n{experiment.name}", fontsize=9)
    ax.set_xlabel(time_label(metadata))
    ax.set_ylabel(f"{metric.replace('_', ' ')}\n(axis up to the median of all reports)")
    ax.grid(alpha=0.3)
    # below the axes: inside, it would hide late trials and their stop marks
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False, fontsize=8)
    return ax.figure


def plot_runs(folders: list[Path]):
    """One panel per experiment."""
    fig, axes = plt.subplots(len(folders), 1, figsize=(9, 4.6 * len(folders)), squeeze=False)
    for ax, path in zip(axes[:, 0], folders):
        plot_learning_curves(load(str(path)), ax)
    fig.tight_layout()
    return fig


def first_seed_of_each_method(folders: list[Path]) -> list[Path]:
    chosen: dict[str, tuple[int, Path]] = {}
    for path in folders:
        metadata = folder.read_metadata(path)
        method = metadata.get(folder.METHOD, metadata.get(folder.SCHEDULER))
        seed = int(metadata.get(folder.SEED, 0))
        if method not in chosen or seed < chosen[method][0]:
            chosen[method] = (seed, path)
    return [path for _, path in sorted(chosen.values(), key=lambda item: str(item[1]))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help="name, unique name prefix, folder, 'latest', or a comparison")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="PNG file to write (default: learning_curves.png in the experiment's folder)")
    add_results_dir_flag(parser)
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)

    def find():
        folders = first_seed_of_each_method(resolve_runs(args.experiment, args.results_dir))
        output = args.output or folders[0] / "learning_curves.png"
        check_output_file(output)
        return folders, output

    folders, output = run_command(find)
    plt.switch_backend("Agg")  # a file, not a window: also works without a display
    print(f"wrote {save_figure(plot_runs(folders), output)}")


if __name__ == "__main__":
    main()
