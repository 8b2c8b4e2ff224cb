"""Compare methods fairly: the same objective, workers, budget, search space and paired seeds.

    python experiments/compare.py --seeds 2 --max-wallclock-time 60
    python experiments/compare.py --seeds 3 --max-results 100    # 100 epochs per run, however busy the machine
    python experiments/compare.py --methods asha,sync_sh,bohb,random_search --seeds 3
    python experiments/compare.py --backend simulated --seeds 30 --workers 4
    python experiments/compare.py --methods asha,ray_tune_asha --backend ray   # Syne Tune vs Ray Tune
    python -m analysis.compare latest            # curves, worker timelines, table

Runs every method once per seed (seeds --seed .. --seed+N-1, seed 0 of every method first) and
writes one experiment per run, named COMPARISON-METHOD-sSEED.
"""

from __future__ import annotations

import argparse

from analysis.comparison import compare
from analysis.experiment_folder import describe_limits
from experiments.schedulers import METHODS
from experiments.tuning import flags
from experiments.tuning.comparison import ComparisonRequest, plan_comparison, run_comparison
from experiments.tuning.run import RunEnded, deliver_sigterm_as_interrupt
from objectives.usage import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="asha,sync_sh",
                        help=f"comma-separated, from {', '.join(METHODS)} (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=2,
                        help="number of paired seeds, --seed .. --seed+N-1 (default %(default)s)")
    parser.add_argument("--comparison-name", default=None,
                        help="letters, digits, '-' and '_' (default cmp-DATE-TIME)")
    flags.add_run_flags(parser, resume=False, experiment_name=False)
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    comparison = run_command(lambda: plan_comparison(ComparisonRequest(
        run=flags.request_from(args, methods[0] if methods else "asha"), methods=methods,
        seeds=args.seeds, name=args.comparison_name)))
    first = comparison.plans[0]
    limits = describe_limits(first.budget_s, first.max_results, first.max_trials, first.simulated)
    timed = first.budget_s is not None and first.max_results is None and first.max_trials is None
    print(f"Comparison {comparison.name}: {len(comparison.plans)} runs of {first.objective.name}, "
          f"{first.n_workers} worker(s), each until {limits}"
          + (f" (about {len(comparison.plans) * first.budget_s / 60:.0f} min)" if timed and not first.simulated else ""),
          flush=True)
    deliver_sigterm_as_interrupt()
    try:
        run_comparison(comparison, say=lambda text: print(text, flush=True))
    except RunEnded as ended:
        print(f"error: the comparison stopped: {ended}", flush=True)
        raise SystemExit(ended.exit_code) from None
    print()
    print(compare(comparison.name, comparison.results_dir).to_text())
    print(f"\nComparison {comparison.name} written to {comparison.results_dir}; plots: "
          f"python -m analysis.compare {comparison.name} --results-dir {comparison.results_dir}")


if __name__ == "__main__":
    main()
