"""Plot validation error of every trial against tuner time, with early stops and best-so-far.

    python -m analysis.plot_learning_curves latest -o curves.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt

from analysis import experiment_folder as folder
from analysis.experiments import add_results_dir_flag, load
from objectives.usage import run_command
from analysis.metrics import stopped_early


def plot_learning_curves(experiment, ax=None):
    """Draw on `ax` (a new figure if None) and return the figure.

    `experiment` is a Syne Tune `ExperimentResult` (see `analysis.experiments.load`).
    """
    metadata = experiment.metadata or {}
    results = experiment.results
    metric = folder.metric_of(metadata)
    resource_attr = folder.resource_attr_of(metadata)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    if results is None or results.empty or metric not in results:
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        return ax.figure
    results = results.sort_values("st_tuner_time")
    max_t = folder.max_resource_of(metadata, results)
    stopped = stopped_early(results, resource_attr, max_t)
    for i, (_, trial) in enumerate(results.groupby("trial_id")):
        ax.plot(trial["st_tuner_time"], trial[metric], marker=".", linewidth=1, alpha=0.7,
                label="one line per trial" if i == 0 else None)
    last = results.groupby("trial_id").tail(1)
    last_stopped = last[last["trial_id"].isin(stopped)]
    ax.scatter(last_stopped["st_tuner_time"], last_stopped[metric], marker="x", color="black",
               s=40, zorder=3, label=f"stopped early by {metadata.get('scheduler', 'scheduler')}")
    ax.step(results["st_tuner_time"], results[metric].cummin(), where="post", color="red",
            linewidth=2, alpha=0.8, zorder=4, label="best so far")
    title = f"{metadata.get('objective', '')} - {metadata.get('scheduler', '')} - {experiment.name}"
    if metadata.get("smoke"):
        title += " (synthetic data)"
    if metadata.get("simulated"):
        title += " (simulated from recorded curves)"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("tuner time (s)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)
    # below the axes: inside, it would hide late trials and their stop marks
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    return ax.figure


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Plot learning curves of one experiment.")
    parser.add_argument("experiment", help="name, unique name prefix, path, or 'latest'")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="PNG file to write (default: learning_curves.png in the experiment folder)")
    add_results_dir_flag(parser)
    args = parser.parse_args(argv)
    experiment = run_command(lambda: load(args.experiment, args.results_dir))
    output = args.output or Path(experiment.path) / "learning_curves.png"
    plt.switch_backend("Agg")  # a file, not a window: also works without a display
    figure = plot_learning_curves(experiment)
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
