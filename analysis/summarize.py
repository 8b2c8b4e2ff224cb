"""Summarise one experiment: trials, early stops, best configuration, test error, utilization.

    python -m analysis.summarize latest
    python -m analysis.summarize asha-fashion-mnist-lenet --json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from analysis import experiment_folder as folder
from analysis.experiment_folder import hyperparameter_columns
from analysis.experiments import add_results_dir_flag, load, resolve_experiment
from analysis.metrics import stopped_early, trial_segments, wallclock_seconds, worker_utilization
from objectives.usage import run_command


def _clean(value):
    """JSON-friendly: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def best_config(best, results, metadata: dict) -> dict:
    config = {c[len("config_"):]: _clean(best[c]) for c in hyperparameter_columns(metadata, results)}
    if "config_id" in config:
        # a recorded configuration (simulated, or --search-space recorded): show its values
        from objectives.tables import recorded_configurations

        config.update(recorded_configurations(metadata["objective"]).get(int(config["config_id"]), {}))
    return config


def trials_per_node(trial_nodes: dict) -> dict:
    """{short node id: number of trials whose latest run was on that node}."""
    counts: dict[str, int] = {}
    for node in trial_nodes.values():
        counts[node[:8]] = counts.get(node[:8], 0) + 1
    return dict(sorted(counts.items()))


def summarize_experiment(spec, results_dir: Path | None = None) -> dict:
    """The summary of EXPERIMENT (name, prefix, path or `latest`) as a flat dict. Keys named
    after the objective's metric and resource: best_validation_error, epochs_total, ..."""
    experiment = load(str(spec), results_dir)
    metadata = experiment.metadata or {}
    results = experiment.results
    metric = folder.metric_of(metadata)
    resource_attr = folder.resource_attr_of(metadata)
    test_metric = metadata.get(folder.TEST_METRIC, "test_error")
    n_workers = int(metadata.get(folder.N_WORKERS, 1))
    segments = trial_segments(results, metadata)
    wallclock = wallclock_seconds(results, segments)
    summary = {
        "name": experiment.name,
        "path": str(resolve_experiment(str(spec), results_dir)),
        "objective": metadata.get(folder.OBJECTIVE),
        "scheduler": metadata.get(folder.SCHEDULER),
        "trial_backend": metadata.get(folder.TRIAL_BACKEND),
        "n_workers": n_workers,
        "smoke": metadata.get(folder.SMOKE, False),
        "simulated": metadata.get(folder.SIMULATED, False),
        "trials": 0,
        "trials_stopped_early": 0,
        f"{resource_attr}s_total": 0,
        f"best_{metric}": None,
        "best_trial_id": None,
        "best_config": None,
        "trials_failed": 0,
        "failures": {},
        "wallclock_s": round(wallclock, 2),
        "worker_utilization": None,
        "interrupted": bool(metadata.get(folder.INTERRUPTED, False)),
        "partial": folder.is_partial(metadata, results),
    }
    if test_metric:
        summary[test_metric] = _clean(metadata.get(test_metric))
    failures = {str(s.trial_id): s.error or "" for s in folder.timeline_of(metadata) if s.status == "Failed"}
    summary.update(trials_failed=len(failures), failures=failures)
    if metadata.get(folder.TRIAL_NODES):  # a Ray cluster: where the trials ran
        summary.update(cluster_nodes=metadata.get(folder.RAY_CLUSTER, {}).get("nodes"),
                       trials_per_node=trials_per_node(metadata[folder.TRIAL_NODES]))
    best = folder.best_row(results, metadata)
    if best is None:
        return summary
    max_t = folder.max_resource_of(metadata, results)
    utilization = worker_utilization(segments, n_workers, wallclock)
    summary.update({
        "trials": int(results["trial_id"].nunique()),
        "trials_stopped_early": len(stopped_early(results, resource_attr, max_t)),
        f"{resource_attr}s_total": int(len(results)),
        f"best_{metric}": _clean(best[metric]),
        "best_trial_id": int(best["trial_id"]),
        "best_config": best_config(best, results, metadata),
        "worker_utilization": None if utilization is None else round(utilization, 4),
    })
    return summary


def format_summary(summary: dict) -> str:
    def show(value):
        if isinstance(value, float):
            return f"{value:.4f}"
        if isinstance(value, dict):
            return ", ".join(f"{k}={show(v)}" for k, v in value.items())
        return "-" if value is None else str(value)

    width = max(len(key) for key in summary)
    return "\n".join(f"{key:<{width}}  {show(value)}" for key, value in summary.items())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Summarise one experiment.")
    parser.add_argument("experiment", help="name, unique name prefix, path, or 'latest'")
    add_results_dir_flag(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    summary = run_command(lambda: summarize_experiment(args.experiment, args.results_dir))
    print(json.dumps(summary, indent=1) if args.json else format_summary(summary))


if __name__ == "__main__":
    main()
