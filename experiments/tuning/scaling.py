"""The scaling study: time to target against the number of workers, simulated.

Every method runs at every worker count with the same paired seeds over a recorded benchmark's
surrogate (the real search space, from scratch), each run ending as soon as it reaches the
target (or at the budget): what matters is how soon, and a run past the target only costs
time. The runs of worker count W form the comparison STUDY-wW.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from analysis.figure_files import save_figure
from analysis.scaling import ScalingTable, scaling_figure, scaling_table
from analysis.study import StudyTable, best_method
from experiments.schedulers import METHODS, STUDY_SETTINGS
from experiments.tuning.comparison import ComparisonRequest, check_methods, run_requests
from experiments.tuning.parallel import ProgressLine, run_many
from experiments.tuning.plan import RunRequest, check_name
from experiments.tuning.study import BENCHMARKS, MODEL_BASED_METHODS, PEER_METHODS
from objectives.usage import UsageError

WORKERS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# ASHA and both synchronous SH variants, beside the best model-based method and peer (default_methods)
METHODS_SCALED = ("asha", "sync_sh", "sync_sh_waiting")
# the model-based method scaled where no study ranks them (none given, or none on the objective)
FALLBACK_MODEL_BASED = "bohb"


def study_pick(study: StudyTable | None, objective: str, among: set[str], workers: int | None = None) -> str | None:
    """The method of `among` that `study` ranks first on `objective` at `workers` (default: its
    most workers, as the scaling study is about many); None where no study says."""
    counts = study.workers_of(objective) if study is not None else []
    if not counts:
        return None
    return best_method(study, among, objective, workers if workers is not None else max(counts))


def model_based_pick(study: StudyTable | None, objective: str, workers: int | None = None) -> str:
    """Syne Tune's model-based method `study` ranks first (study_pick); BOHB where no study says."""
    return study_pick(study, objective, MODEL_BASED_METHODS, workers) or FALLBACK_MODEL_BASED


def default_methods(study: StudyTable | None, objective: str) -> tuple[str, ...]:
    """The methods a scaling study runs unless told: METHODS_SCALED, `study`'s model-based pick
    and its best peer (where the study ran peers)."""
    peer = study_pick(study, objective, PEER_METHODS)
    return METHODS_SCALED + (model_based_pick(study, objective),) + ((peer,) if peer else ())


@dataclass(frozen=True)
class ScalingRequest:
    results_dir: Path
    methods: tuple[str, ...]  # the caller's choice; default_methods(study, objective) is the usual set
    objective: str = "fashion_mnist_lenet"
    workers: tuple[int, ...] = WORKERS
    seeds: int = 5
    target: float | None = None  # None: the study's target for the benchmark
    budget_s: float = 3600.0  # simulated seconds a run may take to reach the target
    name: str = "scaling"
    # the study's settings, so that its model-based pick and these runs agree
    grace_period: int = STUDY_SETTINGS.grace_period
    reduction_factor: int = STUDY_SETTINGS.reduction_factor

    def __post_init__(self):
        if not self.methods:
            raise UsageError("a scaling study needs methods: give them, e.g. default_methods(study, objective) "
                             f"({', '.join(METHODS_SCALED)} and the study's best model-based method)")

    @property
    def target_value(self) -> float:
        return self.target if self.target is not None else BENCHMARKS[self.objective].target


def check_scaling(request: ScalingRequest) -> None:
    if request.objective not in BENCHMARKS:
        raise UsageError(f"--objective {request.objective}: choose a recorded benchmark, one of {', '.join(BENCHMARKS)}")
    if not request.workers or min(request.workers) < 1:
        raise UsageError("--workers: give positive integers, e.g. 1,2,4,8")
    check_methods(request.methods)
    ray = [m for m in request.methods if METHODS[m].family == "ray_tune"]
    if ray:
        raise UsageError(f"--methods {ray[0]}: Ray Tune's scheduler does not run in the simulator")
    if request.seeds < 1:
        raise UsageError(f"--seeds {request.seeds}: need at least 1")
    if not request.budget_s > 0:
        raise UsageError(f"--max-wallclock-time {request.budget_s:g}: must be positive")
    check_name("--study-name", request.name)


def scaling_requests(request: ScalingRequest) -> list[RunRequest]:
    """Every run, stopping at the target; the most workers first (the costliest)."""
    runs = []
    for n in sorted(request.workers, reverse=True):
        base = RunRequest(objective=request.objective, backend="simulated", workers=n, budget_s=request.budget_s,
                          results_dir=request.results_dir, stop_at=request.target_value, default_first=False,
                          grace_period=request.grace_period, reduction_factor=request.reduction_factor)
        for run in run_requests(ComparisonRequest(run=base, methods=request.methods, seeds=request.seeds),
                                f"{request.name}-w{n}"):
            runs.append(run.replace(tags={**run.tags, "target": request.target_value}))
    return runs


def run_scaling(request: ScalingRequest, jobs: int, output_dir: Path) -> tuple[ScalingTable, list[Path]]:
    """Run every run, then write scaling.csv, scaling.png and scaling.json into `output_dir`
    (the compute seconds each method and worker count took beside the table)."""
    requests = scaling_requests(request)
    print(f"{len(requests)} simulated runs ({','.join(request.methods)} x {len(request.workers)} worker counts x "
          f"{request.seeds} seeds), each until validation error < {request.target_value:g}", flush=True)
    started = time.monotonic()
    outcomes = run_many(requests, jobs, ProgressLine())
    wall_s = time.monotonic() - started
    cost: dict[tuple[str, int], float] = {}
    for outcome in outcomes:
        key = (outcome.request.method, outcome.request.workers)
        cost[key] = cost.get(key, 0.0) + outcome.seconds
    table = scaling_table(request.name, request.results_dir, request.target_value)
    frame = table.frame
    frame["compute_s"] = [round(cost.get((m, w), 0.0), 2) for m, w in zip(frame["method"], frame["workers"])]
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [output_dir / "scaling.csv", output_dir / "scaling.png", output_dir / "scaling.json"]
    table.to_csv(written[0])
    save_figure(scaling_figure(table, f"Scaling with workers: {request.objective}, simulated over its recorded "
                                      f"curves, {request.seeds} seeds per point"), written[1])
    written[2].write_text(json.dumps(
        {"objective": request.objective, "target": request.target_value, "budget_s": request.budget_s,
         "seeds": request.seeds, "runs": len(outcomes), "failed": sum(1 for o in outcomes if o.error),
         "wall_s": round(wall_s, 1), "rows": table.to_json()}, indent=1, default=str))
    return table, written
