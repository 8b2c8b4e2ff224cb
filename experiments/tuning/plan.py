"""From what the user asked for (`RunRequest`) to everything a run needs, checked and resolved
(`RunPlan`), before anything is written: bad input raises `UsageError` naming the fix.

A request is what a command line (or a comparison, or a notebook) says; defaults left open are
None. A plan is fully resolved: the objective loaded, the data found, workers and threads
sized to the machine or cluster, the experiment's name and folder chosen.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis import experiment_folder as folder
from analysis.experiments import default_results_dir
from experiments.schedulers import METHODS, STUDY_SETTINGS
from experiments.schedulers.sync_sh import rung_levels
from experiments.tuning import resources
from objectives import Objective, load_objective
from objectives.tables import recorded_configurations
from objectives.precision import forced_precision
from objectives.usage import UsageError

if TYPE_CHECKING:  # Ray and pandas are imported where they are used
    import pandas as pd

    from experiments.backends.ray_cluster import ClusterInfo, TrialResources

BACKENDS = ("warm", "python", "simulated", "ray")
DEFAULT_BUDGET_S = 720.0
SMOKE_BUDGET_S = 30.0  # --smoke checks the set-up: a short run unless a budget is given
NAME_CHARACTERS = "letters, digits, '-' and '_'"


@dataclass(frozen=True)
class RunRequest:
    """One tuning run as asked for; None means "the default for this objective and machine"."""

    objective: str = "fashion_mnist_lenet"
    method: str = "asha"
    workers: int | None = None
    budget_s: float | None = None  # None: the default, unless a count below limits the run
    max_results: int | None = None  # end the run once this many results are reported
    max_trials: int | None = None  # end the run once this many trials have ended
    max_resource: int | None = None
    # the study's sweep (LeNet, 2 workers) favours grace period 1 and reduction factor 4 (see
    # docs/results.md); the defaults stay until other benchmarks and worker counts agree
    grace_period: int = STUDY_SETTINGS.grace_period
    reduction_factor: int = STUDY_SETTINGS.reduction_factor
    brackets: int | None = None  # None: the method's own
    seed: int = 0
    backend: str = "warm"
    data_dir: str | None = None
    smoke: bool = False
    search_space: str = "full"  # or "recorded": only the configurations of the recorded table
    default_first: bool = True  # evaluate the objective's default configuration first
    results_dir: Path | None = None
    experiment_name: str | None = None
    max_failures: int = 20
    cpus_per_trial: int | None = None
    trials_per_gpu: int = 1
    startup_s: float = 0.2  # simulated start-up of each trial
    stop_at: float | None = None  # end the run once the metric reaches this value
    ray_address: str | None = None
    checkpoint_dir: Path | None = None
    tags: dict[str, Any] = field(default_factory=dict)  # into the metadata: comparison, method, target
    timestamp_name: bool = True  # append a timestamp to the experiment's name (comparisons don't)

    def replace(self, **changes) -> "RunRequest":
        return dataclasses.replace(self, **changes)

    def as_metadata(self) -> dict:
        """JSON-ready: every field, paths as text (metadata key `REQUEST`)."""
        return {name: (str(value) if isinstance(value, Path) else value)
                for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_metadata(cls, entry: dict) -> "RunRequest":
        """The request `as_metadata` wrote, from this version or an earlier one: fields that
        earlier versions did not have take their defaults, fields they had and this one does not
        are left out."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {name: value for name, value in entry.items() if name in known}
        for name in ("results_dir", "checkpoint_dir"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Simulation:
    """Recorded curves that answer the trials of a simulated run."""

    table: "pd.DataFrame"
    table_epochs: int
    startup_s: float


@dataclass(frozen=True)
class Placement:
    """Where and how the trials run, sized to this machine or the Ray cluster."""

    n_workers: int
    n_gpus: int
    trials_per_gpu: int
    threads_per_trial: int
    cluster: "ClusterInfo | None" = None
    trial_resources: "TrialResources | None" = None  # Ray: what each trial asks for
    checkpoint_root: Path | None = None  # Ray: shared root of the trials' checkpoints


@dataclass(frozen=True)
class RunPlan:
    """Everything one run needs, checked and resolved; nothing has been written yet."""

    objective: Objective
    objective_spec: str  # how trials load the objective again
    method: str
    backend: str
    n_workers: int
    threads_per_trial: int
    n_gpus: int
    trials_per_gpu: int
    budget_s: float | None  # None: no wall-clock limit (a count limits the run)
    max_resource: int
    grace_period: int
    reduction_factor: int
    brackets: int
    seed: int
    data: str | None
    smoke: bool
    search_space: str
    default_first: bool
    results_dir: Path
    experiment_name: str
    max_failures: int
    tags: dict[str, Any]
    timestamp_name: bool
    request: RunRequest  # what was asked, recorded in the metadata (REQUEST) for --resume
    stop_at: float | None = None  # end the run once the metric reaches this value
    max_results: int | None = None  # end the run once this many results are reported
    max_trials: int | None = None  # end the run once this many trials have ended
    simulation: Simulation | None = None
    cluster: "ClusterInfo | None" = None
    trial_resources: "TrialResources | None" = None  # Ray: what each trial asks for
    checkpoint_root: Path | None = None  # Ray: shared root of the trials' checkpoints

    @property
    def simulated(self) -> bool:
        return self.simulation is not None

    @classmethod
    def from_metadata(cls, metadata: dict, experiment_dir: Path) -> "RunPlan":
        """The plan an experiment ran with, read back from its metadata (for --resume): the
        request as asked, and what was resolved from it on the machine it ran on (workers,
        threads, GPUs, data, rung settings), for the folder where the experiment is now."""
        request = RunRequest.from_metadata(metadata[folder.REQUEST]).replace(results_dir=experiment_dir.parent)
        settings = metadata[folder.SCHEDULER_SETTINGS]
        budget_s = metadata.get(folder.BUDGET_S)
        return cls(
            objective=load_objective(metadata[folder.OBJECTIVE_SPEC]),
            objective_spec=metadata[folder.OBJECTIVE_SPEC], method=metadata[folder.SCHEDULER],
            backend=metadata[folder.TRIAL_BACKEND], n_workers=int(metadata[folder.N_WORKERS]),
            threads_per_trial=int(metadata[folder.THREADS_PER_TRIAL]), n_gpus=int(metadata[folder.N_GPUS]),
            trials_per_gpu=int(metadata.get(folder.TRIALS_PER_GPU, 1)),
            budget_s=None if budget_s is None else float(budget_s),
            max_results=metadata.get(folder.MAX_RESULTS), max_trials=metadata.get(folder.MAX_TRIALS),
            max_resource=int(metadata[folder.MAX_RESOURCE]), grace_period=int(settings["grace_period"]),
            reduction_factor=int(settings["reduction_factor"]), brackets=int(settings["brackets"]),
            seed=int(metadata[folder.SEED]), data=metadata[folder.DATA], smoke=bool(metadata[folder.SMOKE]),
            search_space=metadata[folder.SEARCH_SPACE], default_first=request.default_first,
            stop_at=request.stop_at, results_dir=experiment_dir.parent, experiment_name=experiment_dir.name,
            max_failures=request.max_failures, tags={}, timestamp_name=False, request=request,
        )


def check_name(flag: str, name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise UsageError(f"{flag} {name!r}: use {NAME_CHARACTERS} only")


def check_writable(flag: str, folder: Path) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder}: cannot write there; choose a writable folder")


def check_request(request: RunRequest) -> None:
    """What can be checked without loading anything."""
    if request.method not in METHODS:
        raise UsageError(f"unknown method {request.method!r}: choose one of {', '.join(METHODS)}")
    if request.backend not in BACKENDS:
        raise UsageError(f"unknown backend {request.backend!r}: choose one of {', '.join(BACKENDS)}")
    positive = [("--workers", request.workers), ("--max-resource", request.max_resource),
                ("--brackets", request.brackets), ("--cpus-per-trial", request.cpus_per_trial),
                ("--trials-per-gpu", request.trials_per_gpu), ("--max-results", request.max_results),
                ("--max-trials", request.max_trials)]
    for flag, value in positive:
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}: must be at least 1")
    if request.budget_s is not None and not request.budget_s > 0:
        raise UsageError(f"--max-wallclock-time {request.budget_s:g}: the budget must be positive")
    if request.reduction_factor < 2:
        raise UsageError(f"--reduction-factor {request.reduction_factor}: must be at least 2")
    if request.max_failures < 0:
        raise UsageError(f"--max-failures {request.max_failures}: must be 0 or more")
    if request.startup_s < 0:
        raise UsageError(f"--startup-s {request.startup_s:g}: must be 0 or more")
    if request.startup_s != RunRequest.startup_s and request.backend != "simulated":
        raise UsageError("--startup-s applies to --backend simulated only (real trials take the "
                         "time they take)")
    for flag, value in (("--ray-address", request.ray_address),
                        ("--checkpoint-dir", request.checkpoint_dir)):
        if value is not None and request.backend != "ray":
            raise UsageError(f"{flag} applies to the Ray backend only: add --backend ray")
    if request.search_space not in ("full", "recorded"):
        raise UsageError(f"--search-space {request.search_space}: choose full or recorded")
    if request.experiment_name is not None:
        check_name("--experiment-name", request.experiment_name)
    try:
        forced_precision()
    except ValueError as e:
        raise UsageError(str(e)) from None


def make_plan(request: RunRequest) -> RunPlan:
    """Check every input, load the objective and find its data; raises UsageError (data not
    found included) with the fix."""
    check_request(request)
    check_installed(request.method)
    if METHODS[request.method].peer and request.brackets is not None:
        raise UsageError(f"--brackets does not apply to {request.method}: "
                         f"{METHODS[request.method].requires.name} sets its own brackets from the grace "
                         f"period, reduction factor and max resource")
    objective = load_objective(request.objective)
    results_dir = checked_results_dir(request)
    if request.smoke and not objective.has_data:
        raise UsageError(f"--smoke: objective {objective.name} reads no data set, so there is "
                         f"no synthetic stand-in; leave out --smoke")
    if request.data_dir is not None and not objective.has_data:
        raise UsageError(f"--data-dir: objective {objective.name} reads no data set")
    if request.backend == "simulated":
        if request.data_dir is not None or request.smoke:
            raise UsageError("--data-dir and --smoke do not apply to --backend simulated: the "
                             "recorded curves answer every trial")
        simulation, max_resource = simulation_of(request, objective)
    else:
        simulation, max_resource = None, request.max_resource or objective.max_resource
    check_grace_period(request.grace_period, max_resource)
    if METHODS[request.method].family == "dehb" and request.grace_period >= max_resource:
        raise UsageError(f"--grace-period {request.grace_period}: DEHB needs it below the maximum resource "
                         f"({max_resource}); for one fidelity, use random search")
    brackets = brackets_of(request, max_resource)
    data = None if simulation is not None else data_of(request, objective)
    return RunPlan(
        objective=objective, objective_spec=request.objective, method=request.method,
        backend=request.backend, max_resource=max_resource, grace_period=request.grace_period,
        reduction_factor=request.reduction_factor, brackets=brackets,
        seed=request.seed, data=data, smoke=request.smoke, search_space=request.search_space,
        default_first=request.default_first, results_dir=results_dir,
        experiment_name=request.experiment_name or default_experiment_name(request, objective),
        max_failures=request.max_failures, tags=dict(request.tags), timestamp_name=request.timestamp_name,
        request=request, budget_s=budget_of(request), max_results=request.max_results,
        max_trials=request.max_trials, stop_at=request.stop_at, simulation=simulation,
        **vars(placement_of(request)),
    )


def checked_results_dir(request: RunRequest) -> Path:
    results_dir = (request.results_dir or default_results_dir()).expanduser().resolve()
    if " " in str(results_dir):
        # PythonBackend passes paths on a command line split at spaces
        raise UsageError(f"--results-dir {results_dir}: the path must not contain spaces")
    check_writable("--results-dir", results_dir)
    return results_dir


def data_of(request: RunRequest, objective: Objective) -> str | None:
    """Where the trials read their data (prepared now: found, decoded, cached), if any."""
    if request.search_space == "recorded" and not recorded_configurations(objective.name):
        raise UsageError(f"--search-space recorded: no recorded table for {objective.name}; "
                         f"record one with experiments/record_curves.py")
    data = objective.prepare_data(request.data_dir, request.smoke) if objective.has_data else None
    if data is not None and " " in data:
        raise UsageError(f"data cache {data}: the path must not contain spaces ($HPO_CACHE_DIR)")
    return data


def placement_of(request: RunRequest) -> Placement:
    if request.backend == "simulated":  # simulated workers use no threads nor GPUs of their own
        return Placement(n_workers=request.workers or resources.default_workers(0, 1, resources.cpus_available()),
                         n_gpus=0, trials_per_gpu=1, threads_per_trial=1)
    return placement_on_ray(request) if request.backend == "ray" else placement_here(request)


def placement_here(request: RunRequest) -> Placement:
    """Workers, threads and GPUs on this machine: one worker per GPU (K with --trials-per-gpu
    K), else the CPUs split evenly."""
    cpus = resources.cpus_available()
    n_gpus = resources.count_gpus()
    n_workers = request.workers or resources.default_workers(n_gpus, request.trials_per_gpu, cpus)
    if request.trials_per_gpu > 1 and not n_gpus:
        raise UsageError(f"--trials-per-gpu {request.trials_per_gpu}: no GPU is visible; leave "
                         f"it out on a machine without GPUs")
    return Placement(n_workers=n_workers, n_gpus=n_gpus, trials_per_gpu=request.trials_per_gpu,
                     threads_per_trial=resources.threads_per_trial(n_workers, cpus, n_gpus,
                                                                   request.cpus_per_trial))


def budget_of(request: RunRequest) -> float | None:
    """The wall-clock budget: as asked; none where only a count was asked for; else the default."""
    if request.budget_s is not None:
        return request.budget_s
    if request.max_results is not None or request.max_trials is not None:
        return None
    return SMOKE_BUDGET_S if request.smoke else DEFAULT_BUDGET_S


def default_experiment_name(request: RunRequest, objective: Objective) -> str:
    return f"{request.method}-{objective.name}".replace("_", "-")


def check_installed(method: str) -> None:
    """A method whose optional library is missing fails with the extra that installs it."""
    needed = METHODS[method].requires
    if needed is not None and importlib.util.find_spec(needed.module) is None:
        then = f", then {needed.then}" if needed.then else ""
        raise UsageError(f"{method} needs {needed.name}, which is not installed: "
                         f"pip install -e '.[{needed.extra}]'{then}")


def brackets_of(request: RunRequest, max_resource: int) -> int:
    levels = rung_levels(request.grace_period, request.reduction_factor, max_resource)
    if request.brackets is not None:
        if request.brackets > len(levels):
            raise UsageError(f"--brackets {request.brackets}: at most {len(levels)}, one per rung "
                             f"level ({', '.join(map(str, levels))})")
        return request.brackets
    return METHODS[request.method].default_brackets(request.grace_period, request.reduction_factor,
                                                    max_resource)


def check_grace_period(grace_period: int, max_resource: int) -> None:
    if not 1 <= grace_period <= max_resource:
        raise UsageError(f"--grace-period {grace_period}: must be between 1 and the maximum "
                         f"resource ({max_resource})")


def placement_on_ray(request: RunRequest) -> Placement:
    """Join (or start) the Ray cluster and size the trials to its nodes: one GPU per trial
    (a 1/K share with --trials-per-gpu K) where there are GPUs, otherwise the cluster's CPUs
    split evenly among the workers."""
    from experiments.backends.ray_cluster import ClusterError, TrialResources, connect

    checkpoint_root = None
    if request.checkpoint_dir is not None:
        checkpoint_root = request.checkpoint_dir.expanduser().resolve()
        check_writable("--checkpoint-dir", checkpoint_root)
    try:
        cluster = connect(request.ray_address)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    n_gpus = cluster.gpus
    n_workers = request.workers or max(n_gpus * request.trials_per_gpu, len(cluster.nodes))
    largest_node = max((node.cpus for node in cluster.nodes), default=1)
    threads = request.cpus_per_trial or (1 if n_gpus else max(1, min(cluster.cpus // n_workers, largest_node)))
    trial_resources = TrialResources(cpus=threads, gpus=1 / request.trials_per_gpu if n_gpus else 0)
    problem = cluster.placement_problem(trial_resources)
    if problem:
        raise UsageError(f"--backend ray: no trial could ever start: {problem}; lower "
                         f"--cpus-per-trial or add a larger node")
    slots = cluster.slots(trial_resources)
    if slots < n_workers:
        print(f"warning: the cluster holds {slots} trial(s) of {trial_resources.describe()} at "
              f"once; the other {n_workers - slots} worker(s) will wait for room", flush=True)
    if checkpoint_root is None and cluster.beyond_this_machine:
        print("warning: some nodes run on other machines and --checkpoint-dir is not given: "
              "checkpoints stay on each node's disk, so a trial resumed on another node starts "
              "over and the test evaluation may not find the best trial's weights", flush=True)
    return Placement(n_workers=n_workers, n_gpus=n_gpus, trials_per_gpu=request.trials_per_gpu,
                     threads_per_trial=threads, cluster=cluster, trial_resources=trial_resources,
                     checkpoint_root=checkpoint_root)


def simulation_of(request: RunRequest, objective: Objective) -> tuple[Simulation, int]:
    """(the recorded curves that answer the trials, the maximum resource)."""
    from experiments.backends.simulated import recorded_table
    from objectives.tables import table_names

    table, table_metadata = recorded_table(objective.name)
    metric, _, resource_attr = table_names(table_metadata)
    if (metric, resource_attr) != (objective.metric, objective.resource_attr):
        raise UsageError(f"the recorded table of {objective.name} holds {metric} over {resource_attr}, not "
                         f"{objective.metric} over {objective.resource_attr}: record it again with "
                         f"experiments/record_curves.py")
    table_epochs = int(table_metadata["max_epochs"])
    max_resource = request.max_resource or table_epochs
    if max_resource > table_epochs:
        raise UsageError(f"--max-resource {max_resource}: the recorded table holds "
                         f"{table_epochs} epochs per configuration")
    return Simulation(table=table, table_epochs=table_epochs, startup_s=request.startup_s), max_resource
