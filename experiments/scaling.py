"""How does time to a target error scale with the number of workers? (simulated)

    python experiments/scaling.py --backend simulated --workers 1,2,4,8,16,32 --seeds 5

For each number of workers, runs ASHA and synchronous SH over the recorded learning curves with
several seeds, takes the simulated time each run needs to reach the target error, and plots
the median against workers on log-log axes beside ideal linear scaling (time at one worker /
workers): the ASHA paper's (Li et al., MLSys 2020) argument that ASHA scales linearly with
workers. Writes scaling.png, scaling.csv and scaling.json into --output-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.tuning.comparison import ComparisonRequest, plan_comparison, run_comparison
from experiments.tuning.plan import RunRequest
from objectives.usage import UsageError, run_command


def parse_workers(text: str) -> list[int]:
    try:
        workers = sorted({int(w) for w in text.split(",")})
    except ValueError:
        workers = []
    if not workers or workers[0] < 1:
        raise UsageError(f"--workers {text!r}: give positive integers, e.g. 1,2,4,8")
    return workers


def default_target(objective: str, quantile: float) -> float:
    """A target most configurations never reach: the given quantile of the recorded configs'
    final validation errors."""
    from experiments.backends.simulated import recorded_table

    table, metadata = recorded_table(objective)
    finals = table[table["epoch"] == metadata["max_epochs"]]["validation_error"]
    return float(np.quantile(finals, quantile))


def time_to_target(results_dir: Path, name: str, target: float) -> pd.DataFrame:
    from analysis.comparison import compare

    comparison = compare(name, results_dir, target)
    rows = []
    for method, entry in comparison["methods"].items():
        for run in entry["runs"]:
            rows.append({"method": method, "seed": run["seed"], "time_to_target_s": run["time_to_target_s"]})
    return pd.DataFrame(rows)


def plot(summary: pd.DataFrame, target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for method, rows in summary.groupby("method"):
        line, = ax.plot(rows["workers"], rows["median_time_to_target_s"], marker="o", label=method)
        reached = rows.dropna(subset=["median_time_to_target_s"])
        if reached.empty:
            continue
        base = reached.iloc[0]
        ideal = base["median_time_to_target_s"] * base["workers"] / rows["workers"]
        ax.plot(rows["workers"], ideal, linestyle=":", color=line.get_color(),
                label=f"{method}, ideal linear scaling")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers")
    ax.set_ylabel(f"median time to validation error <= {target:.4f} (simulated s)")
    ax.set_title("Scaling with workers, simulated from recorded FashionMNIST LeNet curves", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="simulated", choices=["simulated"],
                        help="only simulated: real runs at 32 workers do not fit on this machine")
    parser.add_argument("--workers", default="1,2,4,8,16,32")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default="asha,sync_sh")
    parser.add_argument("--objective", default="fashion_mnist_lenet")
    parser.add_argument("--budget", type=float, default=3600.0,
                        help="simulated seconds per run (default %(default)s)")
    parser.add_argument("--target-error", type=float, default=None,
                        help="default: the 10%% quantile of the recorded final errors")
    parser.add_argument("--output-dir", type=Path, default=Path("scaling-report"))
    args = parser.parse_args(argv)
    workers = run_command(lambda: parse_workers(args.workers))
    target = args.target_error if args.target_error is not None else default_target(args.objective, 0.1)
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in workers:
            name = f"scaling-w{n}"
            print(f"{n} worker(s): {args.seeds} seeds of {args.methods} ...", file=sys.stderr, flush=True)
            comparison = run_command(lambda: plan_comparison(ComparisonRequest(
                run=RunRequest(objective=args.objective, backend="simulated", workers=n,
                               budget_s=args.budget, results_dir=Path(tmp)),
                methods=tuple(args.methods.split(",")), seeds=args.seeds, name=name)))
            with contextlib.redirect_stdout(io.StringIO()):
                run_comparison(comparison)
            frame = time_to_target(Path(tmp), name, target)
            frame["workers"] = n
            frames.append(frame)
    runs = pd.concat(frames, ignore_index=True)
    # a run that never reaches the target counts as taking forever (the median stays honest)
    runs["time"] = runs["time_to_target_s"].astype(float).fillna(np.inf)
    summary = (runs.groupby(["method", "workers"])
               .agg(median_time_to_target_s=("time", "median"), reached=("time_to_target_s", "count"))
               .reset_index())
    summary["median_time_to_target_s"] = summary["median_time_to_target_s"].replace(np.inf, np.nan)
    summary["runs"] = args.seeds
    # speed-up relative to the fewest workers whose median run reached the target
    base = summary.groupby("method")["median_time_to_target_s"].transform(
        lambda t: t.dropna().iloc[0] * summary.loc[t.dropna().index[0], "workers"] if t.notna().any() else np.nan)
    summary["speedup"] = base / summary["median_time_to_target_s"]
    summary["efficiency"] = summary["speedup"] / summary["workers"]  # 1 = linear scaling
    args.output_dir.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.output_dir / "scaling.csv", index=False)
    plot(summary, target, args.output_dir / "scaling.png")
    (args.output_dir / "scaling.json").write_text(json.dumps(
        {"target_error": target, "budget_s": args.budget, "rows": summary.to_dict("records")}, indent=1))
    print(f"target validation error {target:.4f}; time to reach it (median over {args.seeds} seeds):")
    print(summary.round(3).to_string(index=False))
    print(f"wrote {args.output_dir}/scaling.png, scaling.csv, scaling.json")


if __name__ == "__main__":
    main()
