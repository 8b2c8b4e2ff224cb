"""The scheduler study: every method x workers x paired seeds on both recorded benchmarks, simulated.

    python experiments/study.py                              # the default study (~30 min on 2 cores)
    python experiments/study.py --seeds 10 --model-seeds 5 --workers 2,4   # a quick look
    python experiments/study.py --analyse-only               # tables and figures again

Each benchmark x worker count is one comparison (STUDY-BENCHMARK-wW) of every method on the
same paired seeds; methods that fit a model run --model-seeds seeds, the others --seeds. A
sweep of ASHA's grace period and reduction factor (LeNet, 2 workers) follows. Writes into
--output-dir: study.md (ranking sentences and tables), study.csv (numbers), study.json,
study-BENCHMARK.png (regret and fraction at target over simulated time, a column per worker
count), sweep.md/.csv and costs.csv (what each method cost to simulate). Runs already in
--results-dir are kept: an interrupted study continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from analysis import study as analysis
from analysis.figure_files import check_output_folder
from experiments.schedulers import METHODS
from experiments.tuning.parallel import default_jobs, run_many
from experiments.tuning.study import (
    BENCHMARKS,
    STUDY_METHODS,
    StudyRequest,
    check_study,
    still_to_run,
    study_requests,
    sweep_requests,
)
from objectives.usage import UsageError, run_command


def parse_list(flag: str, text: str, kind=str) -> tuple:
    try:
        values = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise UsageError(f"{flag} {text!r}: give a comma-separated list")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study-name", default="study", help="names the comparisons (default %(default)s)")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS),
                        help=f"recorded benchmarks (default %(default)s)")
    parser.add_argument("--methods", default=",".join(STUDY_METHODS), help="methods (default: all but Ray Tune's)")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=50,
                        help="paired seeds of the methods that sample at random (default %(default)s)")
    parser.add_argument("--model-seeds", type=int, default=20,
                        help="paired seeds of the methods that fit a model (default %(default)s)")
    parser.add_argument("--sweep-methods", default="asha,bohb",
                        help="methods of the grace period x reduction factor sweep; 'none' to skip "
                             "(default %(default)s)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once (default: one per core this process may use)")
    parser.add_argument("--results-dir", type=Path, default=Path("results") / "study",
                        help="where the runs' experiments go (default %(default)s)")
    parser.add_argument("--output-dir", type=Path, default=Path("study-report"),
                        help="where the tables and figures go (default %(default)s)")
    parser.add_argument("--analyse-only", action="store_true", help="skip running; analyse what is there")
    return parser


def request_from(args) -> StudyRequest:
    request = StudyRequest(
        name=args.study_name, benchmarks=parse_list("--benchmarks", args.benchmarks),
        methods=parse_list("--methods", args.methods), workers=parse_list("--workers", args.workers, int),
        seeds=args.seeds, model_seeds=args.model_seeds,
        sweep_methods=() if args.sweep_methods == "none" else parse_list("--sweep-methods", args.sweep_methods),
        results_dir=args.results_dir.expanduser().resolve())
    check_study(request)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    check_output_folder(args.output_dir)
    return request


class Progress:
    """A line every 5% of the runs (and at the end): done, failed, elapsed, estimated left."""

    def __init__(self):
        self.started = time.monotonic()
        self.failed = 0

    def __call__(self, done: int, total: int, outcome) -> None:
        if outcome.error:
            self.failed += 1
            print(f"  run {outcome.request.experiment_name} failed: {outcome.error}", file=sys.stderr, flush=True)
        if done == total or done % max(1, total // 20) == 0:
            elapsed = time.monotonic() - self.started
            left = elapsed / done * (total - done)
            print(f"  [{elapsed / 60:5.1f} min] {done}/{total} runs"
                  + (f", {self.failed} failed" if self.failed else "")
                  + (f", about {left / 60:.1f} min left" if done < total else ""), file=sys.stderr, flush=True)


def costs_table(outcomes) -> pd.DataFrame:
    """Per method: runs, compute seconds in all and per run (median), as measured in the workers."""
    by_method: dict[str, list[float]] = {}
    for outcome in outcomes:
        by_method.setdefault(outcome.request.method, []).append(outcome.seconds)
    rows = [{"method": m, "model_based": METHODS[m].model_based, "runs": len(s),
             "total_s": round(sum(s), 1), "median_s_per_run": round(statistics.median(s), 3)}
            for m, s in by_method.items()]
    return pd.DataFrame(rows).sort_values("total_s", ascending=False)


def run_study(request: StudyRequest, jobs: int) -> pd.DataFrame | None:
    requests = study_requests(request) + sweep_requests(request)
    todo = still_to_run(requests)
    print(f"Study {request.name}: {len(requests)} simulated runs ({len(requests) - len(todo)} already done), "
          f"{jobs} at a time, into {request.results_dir}", flush=True)
    if not todo:
        return None
    outcomes = run_many(todo, jobs, Progress())
    return costs_table(outcomes)


def write_report(request: StudyRequest, output_dir: Path, costs: pd.DataFrame | None) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    analysed = analysis.analyse(request.name, request.results_dir, output_dir,
                                say=lambda text: print(text, file=sys.stderr, flush=True))
    rows = analysis.table_rows(analysed)
    pd.DataFrame(rows).to_csv(output_dir / "study.csv", index=False)
    text = analysis.markdown(analysed)
    sweep = analysis.sweep_rows(request.name, request.results_dir)
    if sweep:
        pd.DataFrame(sweep).to_csv(output_dir / "sweep.csv", index=False)
        default = (2, 2)
        sweep_text = analysis.sweep_markdown(sweep, default)
        (output_dir / "sweep.md").write_text(sweep_text + "\n")
        text += ("\n### Settings: fashion_mnist_lenet, 2 workers (time to target; the aim is a median "
                 "of at most 120 s)\n\n" + sweep_text + "\n")
    if costs is not None:
        costs.to_csv(output_dir / "costs.csv", index=False)
        text += "\n### What each method cost to simulate (this run)\n\n" + analysis.frame_markdown(costs) + "\n"
    (output_dir / "study.md").write_text(text)
    model_based = {m for m in METHODS if METHODS[m].model_based}
    best = {b: {w: analysis.best_model_based(analysed, model_based, b, w) for w in by_w}
            for b, by_w in analysed["benchmarks"].items()}
    (output_dir / "study.json").write_text(json.dumps(
        {"study": request.name, "rows": rows, "sweep": sweep, "best_model_based": best,
         "leaders": analysis.leaders(analysed).to_dict("records"),
         "costs": None if costs is None else costs.to_dict("records"),
         "benchmarks": {b: {"budget_s": BENCHMARKS[b].budget_s, "target": BENCHMARKS[b].target,
                            "why": BENCHMARKS[b].why} for b in analysed["benchmarks"]}},
        indent=1, default=str))
    print(text)
    print(f"wrote {output_dir}/study.md, study.csv, study.json, "
          + ", ".join(Path(f).name for f in analysed["figures"])
          + (", sweep.md, sweep.csv" if sweep else "") + (", costs.csv" if costs is not None else ""))


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
