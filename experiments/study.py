"""The scheduler study: every method x workers x paired seeds on both recorded benchmarks, simulated.

    python experiments/study.py                              # the default study (~40 min on 2 cores)
    python experiments/study.py --seeds 10 --model-seeds 5 --workers 2,4   # a quick look
    python experiments/study.py --analyse-only               # tables and figures again
    python experiments/study.py --objective my_objective.py:objective --target 0.9 --workers 2,4
                                                             # your own, recorded with record_curves.py

Each benchmark x worker count is one comparison (STUDY-BENCHMARK-wW) of every method, the
peers (Optuna's, SMAC3's, DEHB's) included, on the same paired seeds, at grace period 2 and
reduction factor 2; methods that learn from results run --model-seeds seeds, the others
--seeds. A sweep of grace period and reduction factor (first benchmark, 2 workers) of --sweep-methods
follows. Writes into --output-dir: study.md (ranking sentences and tables, each peer against
Syne Tune's best method), study.csv (numbers), study.json, study-BENCHMARK.png (regret and
fraction at target over simulated time, a column per worker count), sweep.md/.csv and
costs.csv (what each method cost to simulate). Runs already in --results-dir are kept: an
interrupted study continues where it stopped.

With --objective or --entry-point (and the other flags of Syne Tune code), the study runs on that
objective's recorded curves instead (`experiments/record_curves.py` with the same flags records
them), over --max-wallclock-time simulated seconds per run, towards --target (default: the
comparison's own, see `analysis.compare`); the sweep runs on it too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from analysis.figure_files import check_output_folder
from experiments.tuning.flags import add_many_runs_flags, add_objective_flags, comma_list, objective_spec
from experiments.tuning.parallel import default_jobs
from experiments.tuning.study import (BENCHMARKS, OWN_BUDGET_S, STUDY_METHODS, STUDY_RESULTS_DIR, SWEEP_METHODS,
                                      StudyRequest, check_study, own_benchmark, run_study, write_report)
from objectives.usage import UsageError, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study-name", default="study", help="names the comparisons (default %(default)s)")
    parser.add_argument("--benchmarks", default=None,
                        help=f"recorded benchmarks (default {','.join(BENCHMARKS)})")
    add_objective_flags(parser, default=None, default_help="the built-in benchmarks")
    own = parser.add_argument_group("your own objective", "with --objective or --entry-point")
    own.add_argument("--max-wallclock-time", type=float, default=None, metavar="SECONDS",
                     help=f"simulated seconds per run (default {OWN_BUDGET_S:g})")
    own.add_argument("--target", type=float, default=None,
                     help="the metric value a run aims at (default: each comparison's own)")
    parser.add_argument("--methods", default=",".join(STUDY_METHODS),
                        help="methods (default: all but Ray Tune's, the peers included)")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=50,
                        help="paired seeds of the methods that sample at random (default %(default)s)")
    parser.add_argument("--model-seeds", type=int, default=20,
                        help="paired seeds of the methods that fit a model (default %(default)s)")
    parser.add_argument("--sweep-methods", default=",".join(SWEEP_METHODS),
                        help="methods of the grace period x reduction factor sweep; 'none' to skip "
                             "(default %(default)s)")
    add_many_runs_flags(parser, results_dir=STUDY_RESULTS_DIR,
                        results_help="where the runs' experiments go (default %(default)s)",
                        output_dir=Path("study-report"), output_help="where the tables and figures go (default %(default)s)")
    parser.add_argument("--analyse-only", action="store_true", help="skip running; analyse what is there")
    return parser


def benchmarks_from(args) -> tuple:
    """The built-in benchmarks named by --benchmarks, or the objective the other flags name."""
    spec = objective_spec(args)
    if spec is not None and args.benchmarks is not None:
        raise UsageError("--benchmarks and --objective/--entry-point: give built-in benchmarks or your own "
                         "objective, not both")
    if spec is not None and spec not in BENCHMARKS:
        return (own_benchmark(spec, args.max_wallclock_time, args.target),)
    if args.target is not None or args.max_wallclock_time is not None:
        raise UsageError("--target and --max-wallclock-time are for your own objective (--objective or "
                         "--entry-point); the built-in benchmarks have theirs (docs/results.md)")
    names = comma_list("--benchmarks", spec or args.benchmarks or ",".join(BENCHMARKS))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise UsageError(f"--benchmarks {','.join(names)}: unknown {', '.join(unknown)}; "
                         f"choose from {', '.join(BENCHMARKS)}")
    return tuple(BENCHMARKS[name] for name in names)


def request_from(args) -> StudyRequest:
    request = StudyRequest(
        name=args.study_name, benchmarks=benchmarks_from(args),
        methods=comma_list("--methods", args.methods), workers=comma_list("--workers", args.workers, int),
        seeds=args.seeds, model_seeds=args.model_seeds,
        sweep_methods=() if args.sweep_methods == "none" else comma_list("--sweep-methods", args.sweep_methods),
        results_dir=args.results_dir.expanduser().resolve())
    check_study(request)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    check_output_folder(args.output_dir)
    return request


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    request = run_command(lambda: request_from(args))
    from experiments.tuning.run import deliver_sigterm_as_interrupt

    deliver_sigterm_as_interrupt()
    costs = None
    if not args.analyse_only:
        started = time.monotonic()
        costs = run_study(request, args.jobs or default_jobs())
        print(f"simulated in {(time.monotonic() - started) / 60:.1f} min", flush=True)
    run_command(lambda: write_report(request, args.output_dir, costs))


if __name__ == "__main__":
    main()
