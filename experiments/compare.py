"""Compare schedulers fairly: same objective, workers, budget, search space and seeds.

    python experiments/compare.py --seeds 2 --workers 2 --max-wallclock-time 60
    python experiments/compare.py --methods asha,sync_sh,random_search --seeds 3
    python experiments/compare.py --methods asha,ray_tune_asha --backend ray   # Syne Tune vs Ray Tune
    python -m analysis.compare latest            # curves, worker timelines, table

Runs every method once per seed (seeds 0..N-1, interleaved: seed 0 of each method first) and
writes one experiment per (method, seed); each experiment's metadata names the comparison,
the method and the seed, so the analysis groups runs without parsing names.
"""

from __future__ import annotations

import argparse
import copy
import signal
import sys
import time

from experiments import launcher, run_ray_tune
from experiments.schedulers import SCHEDULERS

# Syne Tune's schedulers, plus Ray Tune's own ASHA (experiments/run_ray_tune.py), which always
# runs on Ray: compare it with --backend ray so that both run their trials the same way.
METHODS = (*SCHEDULERS, run_ray_tune.METHOD)


def build_parser() -> argparse.ArgumentParser:
    parser = launcher.build_parser("asha", __doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="asha,sync_sh",
                        help=f"comma-separated, from {', '.join(METHODS)} (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=2,
                        help="number of paired seeds, 0..N-1 offset by --seed (default %(default)s)")
    parser.add_argument("--comparison-name", default=None,
                        help="letters, digits and '-' (default compare-OBJECTIVE-TIMESTAMP)")
    return parser


def plan_runs(args: argparse.Namespace) -> tuple[str, list[launcher.Plan]]:
    """Check everything first: a bad flag fails before any run starts."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise launcher.UsageError(
            f"--methods {args.methods}: unknown {', '.join(unknown) or 'none given'}; "
            f"choose from {', '.join(METHODS)}"
        )
    if args.seeds < 1:
        raise launcher.UsageError(f"--seeds {args.seeds}: need at least 1")
    if args.resume:
        raise launcher.UsageError("--resume: resume each run of a comparison with its launcher "
                                  "(run_asha.py or run_sync_sh.py --resume EXPERIMENT)")
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    name = args.comparison_name or f"compare-{args.objective.replace('_', '-')}-{stamp}"
    if not all(c.isalnum() or c == "-" for c in name):
        raise launcher.UsageError(f"--comparison-name {name!r}: use letters, digits and '-' only")
    plans = []
    for seed in range(args.seed, args.seed + args.seeds):
        for method in methods:
            run_args = copy.copy(args)
            run_args.scheduler = method
            run_args.seed = seed
            run_args.experiment_name = f"{name}-{method.replace('_', '-')}-s{seed}"
            run_args.metadata = [f"comparison={name}", f"method={method}"]
            if method == run_ray_tune.METHOD:
                run_args.backend = "ray"
                plans.append(run_ray_tune.make_plan(run_args))
            else:
                plans.append(launcher.make_plan(run_args))
    return name, plans


def main(argv=None) -> None:
    from objectives.data import DataNotFoundError

    args = build_parser().parse_args(argv)
    try:
        name, plans = plan_runs(args)
    except (launcher.UsageError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    first = plans[0]
    print(f"Comparison {name}: {len(plans)} runs of {first.objective.name}, "
          f"{first.n_workers} worker(s), {first.args.max_wallclock_time:g} s each "
          f"(about {len(plans) * first.args.max_wallclock_time / 60:.0f} min)", flush=True)
    signal.signal(signal.SIGTERM, launcher.raise_interrupt)
    for index, plan in enumerate(plans, start=1):
        print(f"\n=== run {index}/{len(plans)}: {plan.scheduler}, seed {plan.args.seed} ===", flush=True)
        run = run_ray_tune.run if plan.scheduler == run_ray_tune.METHOD else launcher.run
        try:
            run(plan)
        except launcher.RunEnded as ended:
            print(f"error: run {index}/{len(plans)} ended early: {ended}", file=sys.stderr)
            if ended.exit_code != 1:  # interrupted: stop the comparison
                sys.exit(ended.exit_code)

    from analysis.compare import compare, format_table

    print()
    print(format_table(compare(name, first.results_dir)))
    print(f"\nComparison {name} written to {first.results_dir}; "
          f"plots: python -m analysis.compare {name} --results-dir {first.results_dir}")


if __name__ == "__main__":
    main()
