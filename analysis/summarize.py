"""Summarise an experiment: trials, early stops, the best configuration and where its weights
are, its test score, how busy the workers were.

    python -m analysis.summarize latest
    python -m analysis.summarize cmp-20261128-101500            # every run of a comparison
    python -m analysis.summarize latest --json --trials-csv trials.csv

EXPERIMENT is an experiment's name, a unique name prefix, its folder, `latest`, or a
comparison's name (then every run of it is summarised).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from analysis import experiment_folder as folder
from analysis.experiments import add_results_dir_flag, load, resolve_runs
from analysis.figure_files import check_output_file
from analysis.metrics import stopped_early, trial_segments, wallclock_seconds, worker_utilization
from objectives.tables import UnrecordedConfiguration, trial_hyperparameters
from objectives.usage import run_command


def _clean(value):
    """JSON-friendly: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def objective_hyperparameters(metadata: dict, searched: list[str]) -> list[str]:
    """The objective's own hyperparameter names, as far as the metadata tells: those the run
    searched, unless it searched the recorded configurations by `config_id` instead (as older
    experiments, which do not say which space they searched, could have)."""
    if metadata.get(folder.SEARCH_SPACE) == "full":
        return list(searched)
    return [name for name in searched if name != "config_id"]


def config_of(row, results: pd.DataFrame, metadata: dict) -> dict:
    """The hyperparameters of a result row; a recorded configuration's id is kept and resolved
    to the configuration's values, as its trial resolved it."""
    config = {name: _clean(value) for name, value in folder.hyperparameter_values(row, metadata, results).items()}
    try:
        resolved = trial_hyperparameters(config, metadata.get(folder.OBJECTIVE),
                                         objective_hyperparameters(metadata, list(config)))
    except UnrecordedConfiguration:  # a table on this machine that lacks it: the id alone
        return config
    return {**config, **resolved}


def trials_per_node(trial_nodes: dict) -> dict:
    """{short node id: number of trials whose latest run was on that node}."""
    counts: dict[str, int] = {}
    for node in trial_nodes.values():
        counts[node[:8]] = counts.get(node[:8], 0) + 1
    return dict(sorted(counts.items()))


def summary_outline(experiment, wallclock: float) -> dict:
    """The summary's keys in the order shown: what the metadata says of the run, and the
    outcomes empty (no trials, no best) until the results fill them in."""
    metadata = experiment.metadata or {}
    results = experiment.results
    metric = folder.metric_of(metadata)
    resource_attr = folder.resource_attr_of(metadata)
    test_metric = metadata.get(folder.TEST_METRIC, "test_error")
    summary = {
        "name": experiment.name,
        "path": str(Path(experiment.path)),
        "comparison": metadata.get(folder.COMPARISON),
        "objective": metadata.get(folder.OBJECTIVE),
        "scheduler": metadata.get(folder.SCHEDULER),
        "seed": metadata.get(folder.SEED),
        "trial_backend": metadata.get(folder.TRIAL_BACKEND),
        "n_workers": int(metadata.get(folder.N_WORKERS, 1)),
        "smoke": metadata.get(folder.SMOKE, False),
        "simulated": metadata.get(folder.SIMULATED, False),
        "trials": 0,
        "trials_stopped_early": 0,
        f"{resource_attr}s_total": 0,
        f"best_{metric}": None,
        "best_trial_id": None,
        "best_config": None,
        "best_checkpoint": None,
        "trials_failed": 0,
        "failures": {},
        "trials_diverged": len(folder.diverged_trials(results, metadata)),  # a NaN or infinite metric
        "wallclock_s": round(wallclock, 2),
        "worker_utilization": None,
        "interrupted": bool(metadata.get(folder.INTERRUPTED, False)),
        "partial": folder.is_partial(metadata, results),
    }
    if test_metric:
        summary[test_metric] = _clean(metadata.get(test_metric))
    return summary


def failures_and_placement(metadata: dict) -> dict:
    """The failed trials and their errors, where the suggestions came from, where trials ran."""
    failures = {str(s.trial_id): s.error or "" for s in folder.timeline_of(metadata) if s.status == "Failed"}
    found = {"trials_failed": len(failures), "failures": failures}
    if metadata.get(folder.SEARCHER_COUNTS):
        counts = metadata[folder.SEARCHER_COUNTS]
        found["suggestions_by_source"] = {k: v for k, v in counts.items() if k != "fallback_errors"}
    if metadata.get(folder.TRIAL_NODES):  # a Ray cluster: where the trials ran
        found.update(cluster_nodes=metadata.get(folder.RAY_CLUSTER, {}).get("nodes"),
                     trials_per_node=trials_per_node(metadata[folder.TRIAL_NODES]))
    return found


def outcome(experiment, best, segments: list, wallclock: float) -> dict:
    """What the trials did: how many, how far, the best one, its weights and how to load them."""
    metadata = experiment.metadata or {}
    results = experiment.results
    metric = folder.metric_of(metadata)
    resource_attr = folder.resource_attr_of(metadata)
    max_t = folder.max_resource_of(metadata, results)
    utilization = worker_utilization(segments, int(metadata.get(folder.N_WORKERS, 1)), wallclock)
    config = config_of(best, results, metadata)
    found = {
        "trials": int(results["trial_id"].nunique()),
        "trials_stopped_early": len(stopped_early(results, resource_attr, max_t)),
        f"{resource_attr}s_total": int(len(results)),
        f"best_{metric}": _clean(best[metric]),
        "best_trial_id": int(best["trial_id"]),
        "best_config": config,
        "worker_utilization": None if utilization is None else round(utilization, 4),
    }
    checkpoint = folder.checkpoint_folder(Path(experiment.path), int(best["trial_id"]),
                                          metadata.get(folder.CHECKPOINT_ROOT))
    if checkpoint.exists():
        found["best_checkpoint"] = str(checkpoint)
        lines = folder.load_model_lines(metadata, config, checkpoint)
        if lines:
            found["load_best_model"] = lines
    return found


def summarize_experiment(spec, results_dir: Path | None = None) -> dict:
    """The summary of one experiment (name, prefix, folder or `latest`) as a flat dict. Keys
    named after the objective's metric and resource: best_validation_error, epochs_total, ..."""
    experiment = load(str(spec), results_dir)
    metadata = experiment.metadata or {}
    segments = trial_segments(experiment.results, metadata)
    wallclock = wallclock_seconds(experiment.results, segments)
    summary = summary_outline(experiment, wallclock)
    summary.update(failures_and_placement(metadata))
    best = folder.best_row(experiment.results, metadata)
    if best is not None:
        summary.update(outcome(experiment, best, segments, wallclock))
    return summary


def trials_table(spec, results_dir: Path | None = None) -> pd.DataFrame:
    """One row per trial: its hyperparameters, how far it got, its last and best value, and how
    it ended (completed, stopped early, failed, killed at the end)."""
    experiment = load(str(spec), results_dir)
    metadata, results = experiment.metadata or {}, experiment.results
    if results is None or results.empty:
        return pd.DataFrame()
    metric, mode = folder.metric_of(metadata), folder.mode_of(metadata)
    resource = folder.resource_attr_of(metadata)
    max_t = folder.max_resource_of(metadata, results)
    stopped = stopped_early(results, resource, max_t)
    diverged = set(folder.diverged_trials(results, metadata))
    ended = {s.trial_id: s.status for s in folder.timeline_of(metadata)}  # the last run's status
    rows = []
    for trial_id, trial in results.sort_values(resource).groupby("trial_id"):
        last = trial.iloc[-1]
        row = {"trial_id": int(trial_id), **config_of(last, results, metadata),
               resource: int(last[resource]), f"last_{metric}": float(last[metric]),
               f"best_{metric}": float(trial[metric].min() if mode == "min" else trial[metric].max()),
               "ended": "diverged" if trial_id in diverged else "stopped early" if trial_id in stopped
               else ended.get(int(trial_id), "-")}
        rows.append(row)
    return pd.DataFrame(rows)


def _show(value) -> str:
    """Significant digits, not fixed decimals: a learning rate of 1.2e-4 stays readable."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "-" if value is None else str(value)


def format_summary(summary: dict) -> str:
    width = max(len(key) for key in summary)
    lines = []
    for key, value in summary.items():
        text = _show(value).replace("\n", "\n" + " " * (width + 2))
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help="name, unique name prefix, folder, 'latest', or a comparison")
    add_results_dir_flag(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (a list for a comparison)")
    parser.add_argument("--trials-csv", type=Path, default=None, metavar="FILE",
                        help="also write one row per trial (one experiment only)")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)

    def summarise():
        folders = resolve_runs(args.experiment, args.results_dir)
        if args.trials_csv is not None:
            check_output_file(args.trials_csv)
            if len(folders) > 1:
                from objectives.usage import UsageError

                raise UsageError("--trials-csv: name one experiment, not a comparison")
        return folders, [summarize_experiment(f) for f in folders]

    folders, summaries = run_command(summarise)
    if args.trials_csv is not None:
        trials_table(folders[0]).to_csv(args.trials_csv, index=False)
    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=1))
    else:
        print("\n\n".join(format_summary(s) for s in summaries))
    if args.trials_csv is not None:
        print(f"wrote {args.trials_csv}")


if __name__ == "__main__":
    main()
