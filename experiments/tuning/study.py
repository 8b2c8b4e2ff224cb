"""The scheduler study: every method x worker count x paired seeds on each recorded benchmark,
simulated, the peers (Optuna's, SMAC3's and DEHB's methods) included, plus a sweep of the
settings of ASHA and the quickest methods. The benchmarks are the built-in objectives' recorded
curves, or those of a user's own objective (`experiments/record_curves.py`).

Each (benchmark, worker count) is one comparison, STUDY-BENCHMARK-wW, whose runs are ordinary
simulated experiments (COMPARISON-METHOD-sSEED), so every analysis command reads them. Methods
that learn from results run fewer seeds than the others (their fitting dominates the cost);
seeds are paired: seed s of every method sees the same random stream. Every method searches from scratch
(no default configuration first). Runs already in the folder are kept, so an interrupted study
continues where it stopped.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import experiment_folder as folder
from analysis import study as analysis
from analysis.study import comparison_name
from analysis.tables import frame_markdown
from experiments.schedulers import METHODS, RAY_TUNE_ASHA, STUDY_SETTINGS
from experiments.tuning.comparison import ComparisonRequest, check_methods, run_requests
from experiments.tuning.parallel import ProgressLine, run_many
from experiments.tuning.plan import RunRequest, check_name
from objectives.usage import UsageError


@dataclass(frozen=True)
class Benchmark:
    """A recorded benchmark as the study runs it."""

    objective: str  # a built-in objective's name, or the --objective text of a user's recorded one
    budget_s: float  # simulated seconds per run
    target: float | None  # the metric value a run aims at; None: analysis.compare's default
    why: str  # where the target comes from
    name: str = ""  # in the comparisons' names (STUDY-NAME-wW); the objective's, where not given

    @property
    def label(self) -> str:
        return self.name or self.objective


BENCHMARKS = {
    "fashion_mnist_lenet": Benchmark(
        "fashion_mnist_lenet", 720.0, 0.1455,
        "the best error of a 12-minute real ASHA run (seed 004); 4 of the 128 recorded "
        "configurations end below it"),
    "cifar10_cnn": Benchmark(
        "cifar10_cnn", 600.0, 0.391,
        "as for LeNet, an error only 4 recorded configurations reach (of 64) by their last "
        "epoch; 10 minutes, in which one worker trains about 40 of its 14-second epochs"),
}
# the simulated seconds per run of a user's recorded objective, unless told
OWN_BUDGET_S = 720.0


def own_benchmark(spec: str, budget_s: float | None, target: float | None) -> Benchmark:
    """A user's objective (its --objective text) as a benchmark: its recorded curves must exist
    (NoTable, saying how to record them, before any run starts)."""
    from experiments.backends.simulated import recorded_table
    from objectives import load_objective

    name = load_objective(spec).name
    recorded_table(name)
    why = "given with --target" if target is not None else "analysis.compare's default (none given)"
    return Benchmark(spec, budget_s or OWN_BUDGET_S, target, why, name=name)

# every method the simulator can run (Ray Tune's scheduler needs Ray's own runner), the other
# libraries' (peers) included
STUDY_METHODS = tuple(m for m in METHODS if m != RAY_TUNE_ASHA)
# Syne Tune's model-based methods, among which study.json names the best
# (analysis.study.best_method); the peers are compared with Syne Tune's methods apart
MODEL_BASED_METHODS = frozenset(m for m in METHODS if METHODS[m].model_based and not METHODS[m].peer)
PEER_METHODS = frozenset(m for m in METHODS if METHODS[m].peer)
# where a study's runs go unless told (relative to the working folder, as the commands' flags)
STUDY_RESULTS_DIR = Path("results") / "study"

SWEEP_GRACE_PERIODS = (1, 2, 3)
SWEEP_REDUCTION_FACTORS = (2, 3, 4)
# the methods whose settings the sweep varies: ASHA, and the three quickest to LeNet's target with
# 2 workers in the committed study at its settings
SWEEP_METHODS = ("asha", "asha_gp", "optuna_tpe_sha", "optuna_tpe_hyperband")


@dataclass(frozen=True)
class StudyRequest:
    name: str = "study"
    benchmarks: tuple[Benchmark, ...] = tuple(BENCHMARKS.values())
    methods: tuple[str, ...] = STUDY_METHODS
    workers: tuple[int, ...] = (1, 2, 4, 8)
    seeds: int = 50
    model_seeds: int = 20  # seeds of the methods that learn from results (model-based, the peers)
    sweep_methods: tuple[str, ...] = SWEEP_METHODS  # the settings sweep (first benchmark, 2 workers)
    # every method is compared at the same settings: those the committed study ran with (the
    # launchers' defaults)
    grace_period: int = STUDY_SETTINGS.grace_period
    reduction_factor: int = STUDY_SETTINGS.reduction_factor
    results_dir: Path = STUDY_RESULTS_DIR


def seeds_of(request: StudyRequest, method: str) -> int:
    return request.model_seeds if METHODS[method].model_based else request.seeds


def check_study(request: StudyRequest) -> None:
    check_name("--study-name", request.name)
    check_methods(request.methods)
    if request.sweep_methods:  # an empty sweep skips it
        check_methods(request.sweep_methods)
    if RAY_TUNE_ASHA in request.methods + request.sweep_methods:
        raise UsageError(f"--methods {RAY_TUNE_ASHA}: Ray Tune's scheduler runs on Ray, not in the "
                         "simulator; leave it out of a study")
    if not request.benchmarks:
        raise UsageError(f"--benchmarks: none given; choose from {', '.join(BENCHMARKS)}")
    if not request.workers or min(request.workers) < 1:
        raise UsageError("--workers: give positive integers, e.g. 1,2,4,8")
    if request.seeds < 1 or request.model_seeds < 1:
        raise UsageError("--seeds and --model-seeds: need at least 1 each")


def _requests(comparison: str, benchmark: Benchmark, workers: int, methods, seeds_for, results_dir: Path,
              **settings) -> list[RunRequest]:
    # from scratch: the objective's default configuration is a good hand-picked one (on CIFAR-10
    # it alone reaches the target in 68 s), and every method would start with it
    base = RunRequest(objective=benchmark.objective, backend="simulated", workers=workers,
                      budget_s=benchmark.budget_s, results_dir=results_dir, default_first=False, **settings)
    requests = []
    target = {} if benchmark.target is None else {folder.TARGET: benchmark.target}
    for method in methods:
        for run in run_requests(ComparisonRequest(run=base, methods=(method,), seeds=seeds_for(method)), comparison):
            requests.append(run.replace(tags={**run.tags, **target}))
    return requests


def study_requests(request: StudyRequest) -> list[RunRequest]:
    """Every run of the study, the costly ones first (model-based, most workers): a pool that
    ends on cheap runs finishes them together."""
    runs = []
    for benchmark in request.benchmarks:
        for workers in request.workers:
            runs += _requests(comparison_name(request.name, benchmark.label, workers), benchmark, workers,
                              request.methods, lambda m: seeds_of(request, m), request.results_dir,
                              grace_period=request.grace_period, reduction_factor=request.reduction_factor)
    return sorted(runs, key=lambda r: (not METHODS[r.method].model_based, -(r.workers or 1)))


def sweep_name(study: str, grace_period: int, reduction_factor: int) -> str:
    return f"{study}-sweep-g{grace_period}-r{reduction_factor}"


def sweep_requests(request: StudyRequest) -> list[RunRequest]:
    """The sweep methods' settings (grace period x reduction factor) with 2 workers on the first
    benchmark: LeNet by default, the setting of the main job's aim (a median time to target of
    at most 120 s)."""
    if not request.sweep_methods:
        return []
    benchmark = request.benchmarks[0]
    runs = []
    for grace in SWEEP_GRACE_PERIODS:
        for factor in SWEEP_REDUCTION_FACTORS:
            runs += _requests(sweep_name(request.name, grace, factor), benchmark, 2, request.sweep_methods,
                              lambda m: seeds_of(request, m), request.results_dir,
                              grace_period=grace, reduction_factor=factor)
    return sorted(runs, key=lambda r: not METHODS[r.method].model_based)


def still_to_run(requests: list[RunRequest]) -> list[RunRequest]:
    """Those without a finished experiment in the folder (an interrupted study continues)."""
    def finished(run: RunRequest) -> bool:
        path = Path(run.results_dir) / run.experiment_name
        try:
            return folder.is_finished(folder.read_metadata(path))
        except (OSError, ValueError):
            return False

    return [r for r in requests if not finished(r)]


# -- running and reporting ---------------------------------------------------------------------


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
    outcomes = run_many(todo, jobs, ProgressLine())
    return costs_table(outcomes)


def write_report(request: StudyRequest, output_dir: Path, costs: pd.DataFrame | None) -> list[Path]:
    """The study's tables and figures into `output_dir` (printing the tables); the files."""
    output_dir.mkdir(parents=True, exist_ok=True)
    analysed = analysis.analyse(request.name, request.results_dir, output_dir,
                                say=lambda text: print(text, file=sys.stderr, flush=True))
    analysed.table.frame().to_csv(output_dir / "study.csv", index=False)
    text = analysed.to_markdown()
    peers = analysed.peers_markdown(PEER_METHODS)
    if peers:
        text += ("\n### Against the peers: each peer against Syne Tune's best method there (the lowest median "
                 "time to target), paired over the seeds both ran\n\nWho reaches the target sooner, by benchmark "
                 "and workers (undecided: the paired interval includes 0):\n\n" + analysed.peers_matrix(PEER_METHODS)
                 + "\n\n" + analysed.peers_at_a_glance(PEER_METHODS) + "\n" + peers)
    # the settings every other run of the study used, marked "(default)" in the sweep
    sweep = analysis.sweep(request.name, request.results_dir, (request.grace_period, request.reduction_factor))
    if sweep.rows:
        sweep.frame().to_csv(output_dir / "sweep.csv", index=False)
        sweep_text = sweep.to_markdown()
        (output_dir / "sweep.md").write_text(sweep_text + "\n")
        swept = request.benchmarks[0].label
        aim = "; the aim is a median of at most 120 s" if swept == "fashion_mnist_lenet" else ""
        text += f"\n### Settings: {swept}, 2 workers (time to target{aim})\n\n" + sweep_text + "\n"
    if costs is not None:
        costs.to_csv(output_dir / "costs.csv", index=False)
        text += "\n### What each method cost to simulate (this run)\n\n" + frame_markdown(costs) + "\n"
    (output_dir / "study.md").write_text(text)
    (output_dir / "study.json").write_text(json.dumps(
        {**analysed.to_json(MODEL_BASED_METHODS, PEER_METHODS), "sweep": sweep.to_json(),
         "costs": None if costs is None else costs.to_dict("records"),
         "benchmarks": {b.label: {"objective": b.objective, "budget_s": b.budget_s, "target": b.target,
                                  "why": b.why} for b in request.benchmarks if b.label in analysed.benchmarks}},
        indent=1, default=str))
    print(text)
    written = [output_dir / name for name in ("study.md", "study.csv", "study.json")]
    written += analysed.figures
    written += [output_dir / "sweep.md", output_dir / "sweep.csv"] if sweep.rows else []
    written += [output_dir / "costs.csv"] if costs is not None else []
    print("wrote " + ", ".join(str(p) for p in written))
    return written
