"""How does time to a target error scale with the number of workers? (simulated)

    python experiments/scaling.py                        # 1 to 256 workers, 5 seeds (~3 min on 2 cores)
    python experiments/scaling.py --workers 1,4,16 --seeds 3 --methods asha,sync_sh

For each worker count, runs every method with the same paired seeds over the surrogate-served
benchmark (the real search space; simulated time) until the run reaches the target error (or
the budget ends), and reports the median time to target (misses count as never) and the
speed-up over the fewest workers beside the ideal, linear one: the ASHA paper's (Li et al.,
MLSys 2020) claim is near-linear scaling to hundreds of workers, where synchronous SH stalls.
Writes scaling.png, scaling.csv and scaling.json into --output-dir.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from analysis.figure_files import check_output_folder
from analysis.study import COMMITTED_STUDY, committed_study
from experiments.tuning.flags import add_many_runs_flags, comma_list
from experiments.tuning.parallel import default_jobs
from experiments.tuning.scaling import (FALLBACK_MODEL_BASED, METHODS_SCALED, WORKERS, ScalingRequest, check_scaling,
                                        default_methods, run_scaling)
from experiments.tuning.study import BENCHMARKS
from objectives.usage import UsageError, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", default="fashion_mnist_lenet",
                        help=f"recorded benchmark: {', '.join(BENCHMARKS)} (default %(default)s)")
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)), help="worker counts (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="paired seeds per method and worker count (default %(default)s)")
    parser.add_argument("--methods", default=None,
                        help=f"methods (default: {', '.join(METHODS_SCALED)}, and the Syne Tune model-based method "
                             f"and the peer that the committed study, "
                             f"{COMMITTED_STUDY.relative_to(COMMITTED_STUDY.parents[2])}, ranks first on the objective "
                             f"with its most workers; {FALLBACK_MODEL_BASED} and no peer without it)")
    parser.add_argument("--target", type=float, default=None,
                        help="validation error to reach (default: the study's, 0.1455 for LeNet)")
    parser.add_argument("--max-wallclock-time", type=float, default=3600.0, metavar="SECONDS",
                        help="simulated seconds a run may take to reach the target (default %(default)s)")
    add_many_runs_flags(parser, results_dir=None,
                        results_help="keep the runs' experiments there (default: a temporary folder)",
                        output_dir=Path("scaling-report"),
                        output_help="where scaling.png, .csv and .json go (default %(default)s)")
    parser.add_argument("--study-name", default="scaling", help="names the runs STUDY-wN (default %(default)s)")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)

    def check(results_dir: Path) -> ScalingRequest:
        request = ScalingRequest(
            results_dir=results_dir, objective=args.objective, workers=tuple(sorted(comma_list("--workers", args.workers, int))),
            methods=(comma_list("--methods", args.methods) if args.methods
                     else default_methods(committed_study(), args.objective)), seeds=args.seeds,
            target=args.target, budget_s=args.max_wallclock_time, name=args.study_name)
        check_scaling(request)
        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f"--jobs {args.jobs}: must be at least 1")
        check_output_folder(args.output_dir)
        return request

    with tempfile.TemporaryDirectory() as tmp:
        request = run_command(lambda: check((args.results_dir or Path(tmp)).expanduser().resolve()))
        table, written = run_scaling(request, args.jobs or default_jobs(), args.output_dir)
    shown = table.frame[["method", "workers", "median_time_to_target_s", "low", "high", "reached", "seeds",
                   "speedup", "efficiency", "compute_s"]]
    print(f"time to reach validation error {request.target_value:g} (median over {request.seeds} seeds, "
          f"simulated s) and speed-up over {min(request.workers)} worker(s):")
    print(shown.round(3).to_string(index=False))
    print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
