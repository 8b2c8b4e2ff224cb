"""How faithfully does the simulated replay reproduce real runs?

    python -m analysis.replay_fidelity COMPARISON          # a real comparison, --search-space recorded
    python -m analysis.replay_fidelity latest --json

For the trials of the real runs whose configurations are in the recorded table (all of them when
the runs used `--search-space recorded`), compares real and recorded learning curves: the rank
correlation (Spearman) of the validation errors the trials ended with, the median absolute
difference of validation errors epoch by epoch, and the median relative error of epoch times.
Then replays the same comparison (methods, seeds, workers, budget) in simulation and reports
whether simulated and real runs rank the methods the same way.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

from analysis.compare import compare, load_runs, resolve_comparison
from analysis.experiments import ExperimentNotFound, add_results_dir_flag, or_exit


def curve_pairs(runs, table: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, epoch) of the real runs that the table also holds."""
    rows = []
    for run in runs:
        results = run.results
        if results is None or "config_config_id" not in results:
            continue
        merged = results[["trial_id", "config_config_id", "epoch", "validation_error", "epoch_time_s"]].merge(
            table[["config_id", "epoch", "validation_error", "epoch_time_s"]],
            left_on=["config_config_id", "epoch"], right_on=["config_id", "epoch"],
            suffixes=("_real", "_table"),
        )
        merged["run"] = run.experiment.name
        rows.append(merged)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def curve_fidelity(pairs: pd.DataFrame) -> dict:
    from scipy.stats import spearmanr

    if pairs.empty:
        return {"trials": 0}
    last = pairs.sort_values("epoch").groupby(["run", "trial_id"]).tail(1)
    correlation = spearmanr(last["validation_error_real"], last["validation_error_table"]).statistic
    time_error = (pairs["epoch_time_s_real"] - pairs["epoch_time_s_table"]).abs() / pairs["epoch_time_s_table"]
    return {
        "trials": int(len(last)),
        "epochs": int(len(pairs)),
        "final_error_rank_correlation": round(float(correlation), 4),
        "median_abs_error_difference": round(float((pairs["validation_error_real"]
                                                    - pairs["validation_error_table"]).abs().median()), 4),
        "median_relative_epoch_time_error": round(float(time_error.median()), 4),
    }


def method_ranking(comparison: dict, field: str) -> list[str]:
    """Methods ordered best first by the mean of `field` (missing means last)."""
    def key(method):
        mean = comparison["methods"][method]["summary"][field]["mean"]
        return (mean is None, mean if mean is not None else 0.0)

    return sorted(comparison["methods"], key=key)


def simulate_like(runs, results_dir: Path) -> str:
    """Replay the real comparison's settings in simulation; return the new comparison's name."""
    from experiments import compare as compare_cli

    first = runs[0].metadata
    flags = first["flags"]
    methods = sorted({r.method for r in runs})
    seeds = sorted({r.seed for r in runs})
    name = f"replay-{first['comparison']}"[:60]
    argv = ["--backend", "simulated", "--methods", ",".join(methods), "--seed", str(seeds[0]),
            "--seeds", str(len(seeds)), "--workers", str(first["n_workers"]),
            "--max-wallclock-time", str(first["max_wallclock_time"]),
            "--grace-period", str(flags["grace_period"]),
            "--reduction-factor", str(flags["reduction_factor"]),
            "--objective", first["objective"], "--comparison-name", name,
            "--results-dir", str(results_dir)]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        compare_cli.main(argv)
    return name


def fidelity(spec: str, results_dir: Path | None = None) -> dict:
    from experiments.simulation import recorded_table

    name = resolve_comparison(spec, results_dir)
    runs = [r for r in load_runs(name, results_dir) if not r.metadata.get("simulated")]
    if not runs:
        raise ExperimentNotFound(f"comparison {name} has no real runs to check against")
    table, _ = recorded_table(runs[0].metadata["objective"])
    report = {"comparison": name, "curves": curve_fidelity(curve_pairs(runs, table))}
    real = compare(name, results_dir)
    with tempfile.TemporaryDirectory() as tmp:
        simulated_name = simulate_like(runs, Path(tmp))
        # the same target error for both, so times to target are comparable
        simulated = compare(simulated_name, Path(tmp), real["target_error"])
    report["ranking"] = {}
    for field in ("final_best_validation_error", "time_to_target_s"):
        real_order, simulated_order = method_ranking(real, field), method_ranking(simulated, field)
        report["ranking"][field] = {
            "real": real_order, "simulated": simulated_order, "same": real_order == simulated_order,
            "real_means": {m: real["methods"][m]["summary"][field]["mean"] for m in real_order},
            "simulated_means": {m: simulated["methods"][m]["summary"][field]["mean"] for m in simulated_order},
        }
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comparison", help="a real comparison: name, unique prefix, or 'latest'")
    add_results_dir_flag(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = or_exit(lambda: fidelity(args.comparison, args.results_dir))
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"Replay fidelity for {report['comparison']}")
    for key, value in report["curves"].items():
        print(f"  {key:<34} {value}")
    for field, entry in report["ranking"].items():
        print(f"  ranking by {field}: real {entry['real']} vs simulated {entry['simulated']} "
              f"-> {'same' if entry['same'] else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
