"""The one builder behind every launcher: flags -> objective, scheduler, backend, tuner -> run.

`run_asha.py` and the other launchers differ only in the scheduler's name, looked up in
`experiments.schedulers.SCHEDULERS`. Everything the user passes is checked before anything is
written, so bad input exits with code 2 and a one-line message, leaving no half-made
experiment behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from analysis.experiments import default_results_dir
from objectives import OBJECTIVES, TRIAL_SETTINGS

# Seconds the tuner sleeps when every worker is busy. Syne Tune's default (5 s) leaves a freed
# worker idle for up to 5 s and lands STOP decisions late; polling the trials' output files
# 5 times a second costs the tuner a few percent of one core.
TUNER_SLEEP_S = 0.2
METRIC = "validation_error"
RESOURCE_ATTR = "epoch"

# Syne Tune's ASHA hands points_to_evaluate to its searcher twice and warns about it each time.
logging.getLogger(
    "syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher"
).setLevel(logging.ERROR)


BACKENDS = ("warm", "python", "simulated", "ray")
DEFAULT_BUDGET_S = 720.0
SMOKE_BUDGET_S = 30.0  # --smoke checks the set-up: a short run unless a budget is given


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


def count_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def build_parser(scheduler: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--objective", default="fashion_mnist_lenet",
                        help=f"what to tune: {', '.join(OBJECTIVES)} (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None,
                        help="trials run at once (default: number of GPUs, 1 without GPU; with "
                             "--backend ray, the cluster's GPUs, or its nodes without GPU)")
    parser.add_argument("--max-wallclock-time", type=float, default=None,
                        help=f"tuning budget in seconds (default {DEFAULT_BUDGET_S:g}; "
                             f"{SMOKE_BUDGET_S:g} with --smoke)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epochs of a fully trained trial, max_t (default: the objective's)")
    parser.add_argument("--grace-period", type=int, default=2,
                        help="r_min: epochs before the first rung (default %(default)s)")
    parser.add_argument("--reduction-factor", type=int, default=2,
                        help="eta: 1/eta of a rung is promoted (default %(default)s)")
    parser.add_argument("--brackets", type=int, default=1,
                        help="1 = successive halving; more = Hyperband brackets (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--data-dir", default=None, help="where the data set is (see README)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where experiments are written (default $SYNETUNE_FOLDER or ~/syne-tune)")
    parser.add_argument("--experiment-name", default=None,
                        help="name prefix; a timestamp is appended (default: SCHEDULER-OBJECTIVE)")
    parser.add_argument("--backend", default="warm",
                        help="how trials run: 'warm' (forked from a process with torch and the data "
                             "already loaded), 'python' (Syne Tune's PythonBackend: a new "
                             "process per trial), 'simulated' (replayed from the objective's "
                             "recorded learning curves in simulated time) or 'ray' (trials run as "
                             "Ray tasks on the nodes of a Ray cluster) (default %(default)s)")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="--backend ray: the cluster to join, as `ray start --head` prints it "
                             "(default: a local Ray started for this run)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="--backend ray: a folder every node can read and write, for the "
                             "trials' checkpoints (default: inside the experiment folder, right "
                             "when all nodes share this machine's disk)")
    parser.add_argument("--cpus-per-trial", type=int, default=None,
                        help="CPU threads each trial uses (default: CPUs split evenly among the "
                             "workers; 1 per trial on GPUs)")
    parser.add_argument("--search-space", default="full", choices=["full", "recorded"],
                        help="'full': the objective's search space; 'recorded': only the "
                             "configurations in its recorded table, so that real and simulated "
                             "runs can be compared trial by trial (default %(default)s)")
    parser.add_argument("--startup-s", type=float, default=0.2,
                        help="simulated start-up cost of each trial in seconds (default %(default)s)")
    parser.add_argument("--max-failures", type=int, default=20,
                        help="failed trials tolerated before tuning is aborted (default %(default)s)")
    parser.add_argument("--smoke", action="store_true",
                        help="synthetic data shaped like the real set: a quick check of the set-up")
    parser.add_argument("--resume", metavar="EXPERIMENT", default=None,
                        help="continue an interrupted experiment (name, prefix, path or 'latest' "
                             "under --results-dir) to its original budget; other flags are ignored")
    parser.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                        help=argparse.SUPPRESS)  # used by compare.py to tag its runs
    parser.set_defaults(scheduler=scheduler)
    return parser


@dataclass
class Plan:
    """Everything a run needs, checked and resolved; nothing has been written yet."""

    objective: object
    scheduler: str
    n_workers: int
    n_gpus: int
    threads_per_trial: int
    max_epochs: int
    data_file: str
    results_dir: Path
    experiment_name: str
    args: argparse.Namespace
    table: object = None  # recorded learning curves, for --backend simulated
    cluster: object = None  # experiments.ray_cluster.ClusterInfo, for --backend ray
    checkpoint_dir: Path | None = None  # --backend ray: shared root of the trials' checkpoints

    @property
    def simulated(self) -> bool:
        return self.table is not None


def check_args(args: argparse.Namespace) -> None:
    from experiments.schedulers import SCHEDULERS

    if args.objective not in OBJECTIVES:
        raise UsageError(f"unknown objective {args.objective!r}: choose one of {', '.join(OBJECTIVES)}")
    if args.scheduler not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {args.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
    if args.backend not in BACKENDS:
        raise UsageError(f"unknown backend {args.backend!r}: choose one of {', '.join(BACKENDS)}")
    if args.max_wallclock_time is None:
        args.max_wallclock_time = SMOKE_BUDGET_S if args.smoke else DEFAULT_BUDGET_S
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: need at least 1 worker")
    if not args.max_wallclock_time > 0:
        raise UsageError(f"--max-wallclock-time {args.max_wallclock_time}: the budget must be positive")
    if args.max_epochs is not None and args.max_epochs < 1:
        raise UsageError(f"--max-epochs {args.max_epochs}: must be at least 1")
    if args.reduction_factor < 2:
        raise UsageError(f"--reduction-factor {args.reduction_factor}: must be at least 2")
    if args.brackets < 1:
        raise UsageError(f"--brackets {args.brackets}: must be at least 1")
    if args.max_failures < 0:
        raise UsageError(f"--max-failures {args.max_failures}: must be 0 or more")
    if args.cpus_per_trial is not None and args.cpus_per_trial < 1:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial}: must be at least 1")
    for flag, value in (("--ray-address", args.ray_address), ("--checkpoint-dir", args.checkpoint_dir)):
        if value is not None and args.backend != "ray":
            raise UsageError(f"{flag} applies to the Ray backend only: add --backend ray")
    if args.experiment_name is not None and not all(
        c.isalnum() or c == "-" for c in args.experiment_name
    ):
        raise UsageError(f"--experiment-name {args.experiment_name!r}: use letters, digits and '-' only")


def check_writable(flag: str, folder: Path) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder}: cannot write there; choose a writable folder")


def check_results_dir(results_dir: Path) -> None:
    if " " in str(results_dir):
        # PythonBackend passes paths on a command line split at spaces
        raise UsageError(f"--results-dir {results_dir}: the path must not contain spaces")
    check_writable("--results-dir", results_dir)


def make_plan(args: argparse.Namespace) -> Plan:
    """Check every input and find the data; raises UsageError or DataNotFoundError."""
    from objectives import load_objective, recorded_configurations
    from objectives.data import SMOKE

    check_args(args)
    objective = load_objective(args.objective)
    max_epochs = args.max_epochs or objective.max_epochs
    if not 1 <= args.grace_period <= max_epochs:
        raise UsageError(
            f"--grace-period {args.grace_period}: must be between 1 and the maximum number of "
            f"epochs ({max_epochs})"
        )
    results_dir = (args.results_dir or default_results_dir()).expanduser().resolve()
    check_results_dir(results_dir)
    name = args.experiment_name or f"{args.scheduler}-{args.objective}".replace("_", "-")
    if args.backend == "simulated":
        return plan_simulation(args, objective, results_dir, name)
    if args.search_space == "recorded" and not recorded_configurations(objective.name):
        raise UsageError(f"--search-space recorded: no recorded table for {objective.name}; "
                         f"record one with experiments/record_curves.py")
    data_file = SMOKE if args.smoke else str(objective.prepare_data(args.data_dir))
    if " " in data_file:
        raise UsageError(f"data cache {data_file}: the path must not contain spaces ($HPO_CACHE_DIR)")
    if args.backend == "ray":
        return plan_ray(args, objective, max_epochs, data_file, results_dir, name)
    n_gpus = count_gpus()
    n_workers = args.workers or max(n_gpus, 1)
    threads = 1 if n_gpus else args.cpus_per_trial or max(1, (os.cpu_count() or 1) // n_workers)
    return Plan(objective, args.scheduler, n_workers, n_gpus, threads, max_epochs, data_file,
                results_dir, name, args)


def plan_ray(args, objective, max_epochs: int, data_file: str, results_dir: Path, name: str) -> Plan:
    """Join (or start) the Ray cluster and size the trials to its nodes: one GPU per trial
    where there are GPUs, otherwise the cluster's CPUs split evenly among the workers."""
    from experiments.ray_cluster import ClusterError, TrialResources, connect

    checkpoint_dir = None
    if args.checkpoint_dir is not None:
        checkpoint_dir = args.checkpoint_dir.expanduser().resolve()
        check_writable("--checkpoint-dir", checkpoint_dir)
    try:
        cluster = connect(args.ray_address)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    n_gpus = cluster.gpus
    n_workers = args.workers or max(n_gpus, len(cluster.nodes))
    largest_node = max((node.cpus for node in cluster.nodes), default=1)
    threads = 1 if n_gpus else args.cpus_per_trial or max(1, min(cluster.cpus // n_workers, largest_node))
    resources = TrialResources(cpus=threads, gpus=1 if n_gpus else 0)
    problem = cluster.placement_problem(resources)
    if problem:
        raise UsageError(f"--backend ray: no trial could ever start: {problem}; lower "
                         f"--cpus-per-trial or add a larger node")
    slots = cluster.slots(resources)
    if slots < n_workers:
        print(f"warning: the cluster holds {slots} trial(s) of {resources.describe()} at once; "
              f"the other {n_workers - slots} worker(s) will wait for room", file=sys.stderr)
    if checkpoint_dir is None and cluster.beyond_this_machine:
        print("warning: some nodes run on other machines and --checkpoint-dir is not given: "
              "checkpoints stay on each node's disk, so a trial resumed on another node starts "
              "over and the test evaluation may not find the best trial's weights",
              file=sys.stderr)
    return Plan(objective, args.scheduler, n_workers, n_gpus, threads, max_epochs, data_file,
                results_dir, name, args, cluster=cluster, checkpoint_dir=checkpoint_dir)


def plan_simulation(args, objective, results_dir: Path, name: str) -> Plan:
    from experiments.record_curves import table_path
    from experiments.simulation import NoTable, recorded_table

    try:
        table, table_metadata = recorded_table(objective.name)
    except NoTable as e:
        raise UsageError(str(e)) from None
    max_epochs = args.max_epochs or table_metadata["max_epochs"]
    if max_epochs > table_metadata["max_epochs"]:
        raise UsageError(f"--max-epochs {max_epochs}: the recorded table holds "
                         f"{table_metadata['max_epochs']} epochs per configuration")
    if args.startup_s < 0:
        raise UsageError(f"--startup-s {args.startup_s}: must be 0 or more")
    return Plan(objective, args.scheduler, args.workers or 1, 0, 1, max_epochs,
                str(table_path(objective.name)), results_dir, name, args, table=table)


def config_space_of(plan: Plan) -> dict:
    """The objective's search space plus the fixed settings every trial receives (simulated:
    the recorded configurations)."""
    from syne_tune.config_space import choice

    from objectives import recorded_configurations

    if plan.simulated:
        from experiments.simulation import config_space

        return config_space(plan.table, plan.max_epochs)
    if plan.args.search_space == "recorded":
        search_space = {"config_id": choice(sorted(recorded_configurations(plan.objective.name)))}
    else:
        search_space = plan.objective.search_space
    settings = {
        "objective": plan.objective.name,
        "data_file": plan.data_file,
        "max_epochs": plan.max_epochs,
        "num_threads": plan.threads_per_trial,
        "seed": plan.args.seed,
        # Present as a key so PythonBackend passes each trial its checkpoint folder; the value
        # is replaced by the real path.
        "st_checkpoint_dir": "unused",
    }
    assert set(settings) == set(TRIAL_SETTINGS)
    return {**search_space, **settings}


def versions() -> dict:
    import numpy
    import pandas
    import syne_tune
    import torch

    return {
        "python": platform.python_version(),
        "syne_tune": syne_tune.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
    }


def metadata_of(plan: Plan) -> dict:
    args = {key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(plan.args).items() if key != "metadata"}
    extra = dict(item.split("=", 1) for item in plan.args.metadata)
    return {
        "objective": plan.objective.name,
        "scheduler": plan.scheduler,
        "trial_backend": plan.args.backend,
        "seed": plan.args.seed,
        "n_workers": plan.n_workers,
        "n_gpus": plan.n_gpus,
        "threads_per_trial": plan.threads_per_trial,
        "max_epochs": plan.max_epochs,
        "grace_period": plan.args.grace_period,
        "reduction_factor": plan.args.reduction_factor,
        "brackets": plan.args.brackets,
        "search_space": "recorded" if plan.simulated else plan.args.search_space,
        "max_wallclock_time": plan.args.max_wallclock_time,
        "mode": "min",
        "resource_attr": RESOURCE_ATTR,
        "smoke": plan.args.smoke,
        "simulated": plan.simulated,
        "data_file": plan.data_file,
        **({"ray_cluster": plan.cluster.as_metadata(),
            "checkpoint_dir": str(plan.checkpoint_dir) if plan.checkpoint_dir else None}
           if plan.cluster else {}),
        "flags": args,
        "versions": versions(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        **extra,
    }


def make_backend(plan: Plan, config_space: dict):
    from syne_tune.backend import PythonBackend

    from experiments.warm_backend import WarmPythonBackend
    from objectives import trial_entry_point

    # rotate_gpus probes nvidia-smi and gives each trial its own GPU; without GPUs skip it.
    rotate_gpus = plan.n_gpus > 0
    if plan.simulated:
        from experiments.simulation import make_backend as simulated_backend

        return simulated_backend(plan.table, plan.max_epochs, plan.args.startup_s)
    if plan.args.backend == "ray":
        from experiments.ray_backend import RayTrialBackend
        from experiments.ray_cluster import TrialResources

        return RayTrialBackend(
            trial_entry_point, config_space,
            TrialResources(cpus=plan.threads_per_trial, gpus=1 if plan.n_gpus else 0),
            address=plan.args.ray_address, checkpoint_root=plan.checkpoint_dir,
            data_file=plan.data_file,
        )
    if plan.args.backend == "warm":
        return WarmPythonBackend(trial_entry_point, config_space, rotate_gpus=rotate_gpus,
                                 preload=f"{plan.objective.name}={plan.data_file}")
    return PythonBackend(trial_entry_point, config_space, rotate_gpus=rotate_gpus)


def make_tuner(backend, scheduler, scheduler_name: str, *, n_workers: int, stop_criterion,
               max_failures: int, name: str, metadata: dict, max_t: int, results_dir: Path,
               print_update_interval: float = 30.0, simulated: bool = False):
    """The one way the suite builds a tuner, whatever the objective: fast polling, results,
    worker timeline and progress lines (simulated: Syne Tune's simulator clock, and quiet)."""
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.tuner_logger import TunerLogger

    from experiments.callbacks import ProgressPrinter, QuietLogger, StoreResults, WorkerTimeline
    from experiments.tuner import WaitingTuner

    if simulated:
        callbacks = [SimulatorCallback(), WorkerTimeline()]
        logger = QuietLogger()
    else:
        callbacks = [StoreResults(), WorkerTimeline(),
                     ProgressPrinter(METRIC, RESOURCE_ATTR, max_t, scheduler_name)]
        logger = TunerLogger(use_colors=sys.stdout.isatty(), use_emojis=False)
    # Tuner and backend take their folder from $SYNETUNE_FOLDER
    os.environ["SYNETUNE_FOLDER"] = str(results_dir)
    return WaitingTuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=stop_criterion,
        n_workers=n_workers,
        sleep_time=0 if simulated else TUNER_SLEEP_S,  # the simulator advances its own clock
        max_failures=max_failures,
        tuner_name=name,
        metadata=metadata,
        callbacks=callbacks,
        print_update_interval=print_update_interval,
        output_logger=logger,
        # pickling the tuner (for --resume) costs more than a whole simulated run
        save_tuner=not simulated,
    )


def build_tuner(plan: Plan):
    from syne_tune import StoppingCriterion

    from experiments.schedulers import SCHEDULERS, SchedulerArgs

    config_space = config_space_of(plan)
    scheduler = SCHEDULERS[plan.scheduler](
        SchedulerArgs(
            config_space=config_space,
            metric=METRIC,
            do_minimize=True,
            resource_attr=RESOURCE_ATTR,
            max_t=plan.max_epochs,
            grace_period=plan.args.grace_period,
            reduction_factor=plan.args.reduction_factor,
            seed=plan.args.seed,
            points_to_evaluate=[dict(plan.objective.default_config)]
            if plan.args.search_space == "full" and not plan.simulated else [],
            max_resource_attr="max_epochs",
            brackets=plan.args.brackets,
        )
    )
    return make_tuner(
        make_backend(plan, config_space), scheduler, plan.scheduler,
        n_workers=plan.n_workers,
        stop_criterion=StoppingCriterion(max_wallclock_time=plan.args.max_wallclock_time),
        max_failures=plan.args.max_failures,
        name=plan.experiment_name,
        metadata=metadata_of(plan),
        max_t=plan.max_epochs,
        results_dir=plan.results_dir,
        print_update_interval=max(30.0, plan.args.max_wallclock_time / 10),
        simulated=plan.simulated,
    )


def evaluate_best_on_test(plan: Plan, experiment_dir: Path, checkpoint_path) -> dict:
    """Test error of the best trial's last checkpoint (found by `checkpoint_path(trial_id)`);
    recorded in metadata.json."""
    from syne_tune.experiments import load_experiment

    results = load_experiment(experiment_dir.name, local_path=str(experiment_dir.parent)).results
    if results is None or results.empty or METRIC not in results:
        return {"test_error": None, "best_trial_id": None}
    best = results.loc[results[METRIC].idxmin()]
    trial_id = int(best["trial_id"])
    if "config_config_id" in best:
        from objectives import recorded_configurations

        hyperparameters = recorded_configurations(plan.objective.name)[int(best["config_config_id"])]
    else:
        hyperparameters = {name: best[f"config_{name}"] for name in plan.objective.search_space}
    checkpoint_dir = checkpoint_path(trial_id)
    try:
        test_error = plan.objective.test_error(hyperparameters, str(checkpoint_dir), plan.data_file)
    except FileNotFoundError:
        test_error = None  # the best trial was killed before its first checkpoint
    return {"test_error": test_error, "best_trial_id": trial_id}


class RunEnded(Exception):
    """Tuning ended early; everything reported so far is stored in `experiment_dir`."""

    def __init__(self, experiment_dir: Path, reason: str, exit_code: int):
        super().__init__(reason)
        self.experiment_dir = experiment_dir
        self.exit_code = exit_code


class Interrupt(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so that the tuner's clean-up runs."""


def raise_interrupt(signum, frame):
    raise Interrupt()


def interrupted(experiment_dir: Path, error: KeyboardInterrupt) -> RunEnded:
    """Mark the experiment interrupted; the RunEnded that exits 130 (Ctrl-C) or 143 (SIGTERM)."""
    from experiments.metadata import update_metadata

    update_metadata(experiment_dir, interrupted=True)
    by_sigterm = isinstance(error, Interrupt)
    return RunEnded(experiment_dir, f"interrupted by {'SIGTERM' if by_sigterm else 'SIGINT'}",
                    143 if by_sigterm else 130)


def run_and_summarize(run_plan: Callable[[], Path]) -> Path:
    """A launcher's last step: run (SIGTERM delivered like Ctrl-C), print the summary, and exit
    with RunEnded's code when the run ended early."""
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        experiment_dir = run_plan()
    except RunEnded as ended:
        print_summary(ended.experiment_dir)
        print(f"error: {ended}", file=sys.stderr)
        sys.exit(ended.exit_code)
    print_summary(experiment_dir)
    return experiment_dir


def run(plan: Plan, tuner=None) -> Path:
    """Run the tuner (a new one built from `plan`, or `tuner`), then evaluate the best trial on
    the test split; return the experiment folder.

    On Ctrl-C or SIGTERM, Syne Tune's tuner stores the results, and kills the running trials;
    here the experiment is then marked interrupted and RunEnded raised. Too many failed trials
    end the run the same way.
    """
    from experiments.metadata import update_metadata

    tuner = tuner or build_tuner(plan)
    experiment_dir = Path(tuner.tuner_path)
    try:
        tuner.run()
    except KeyboardInterrupt as e:
        raise interrupted(experiment_dir, e) from None
    except Exception:
        failed = tuner.tuning_status.num_trials_failed if tuner.tuning_status else 0
        if failed <= plan.args.max_failures:
            raise
        update_metadata(experiment_dir, aborted="too many failed trials")
        raise RunEnded(experiment_dir, f"{failed} trials failed, more than --max-failures "
                       f"{plan.args.max_failures}: see the failures below", 1) from None
    trial_nodes = getattr(tuner.trial_backend, "trial_nodes", None)
    if trial_nodes is not None:  # Ray: the node each trial ran on last
        update_metadata(experiment_dir, trial_nodes={str(k): v for k, v in trial_nodes.items()})
    if plan.simulated:  # no weights were trained: nothing to test
        update_metadata(experiment_dir, test_error=None, best_trial_id=None)
    else:
        update_metadata(experiment_dir, **evaluate_best_on_test(
            plan, experiment_dir, tuner.trial_backend.checkpoint_trial_path))
    return experiment_dir


def print_summary(experiment_dir: Path) -> None:
    from analysis.summarize import format_summary, summarize_experiment

    print()
    print(format_summary(summarize_experiment(experiment_dir)))
    print(f"\nExperiment {experiment_dir.name} written to {experiment_dir}")


def plan_resume(args: argparse.Namespace):
    """(plan, tuner) to continue the interrupted experiment named by --resume."""
    from analysis.experiments import ExperimentNotFound, resolve_experiment
    from experiments.resume import CannotResume, load_interrupted
    from objectives import load_objective

    results_dir = (args.results_dir or default_results_dir()).expanduser()
    try:
        experiment_dir = resolve_experiment(args.resume, results_dir)
        tuner, metadata, elapsed, reopened = load_interrupted(experiment_dir)
    except (ExperimentNotFound, CannotResume) as e:
        raise UsageError(f"--resume {args.resume}: {e}") from None
    if metadata.get("scheduler") != args.scheduler:
        raise UsageError(f"--resume: {experiment_dir.name} ran {metadata.get('scheduler')}; resume it "
                         f"with that scheduler's launcher")
    stored = argparse.Namespace(**{**vars(args), **metadata["flags"], "resume": args.resume})
    objective = load_objective(metadata["objective"])
    plan = Plan(objective, metadata["scheduler"], int(metadata["n_workers"]), int(metadata["n_gpus"]),
                int(metadata["threads_per_trial"]), int(metadata["max_epochs"]),
                metadata["data_file"], experiment_dir.parent, experiment_dir.name, stored)
    print(f"Resuming {experiment_dir.name} at {elapsed:.1f} s of {metadata['max_wallclock_time']:g} s"
          + (f"; trials {reopened} continue from their checkpoints" if reopened else ""), flush=True)
    return plan, tuner


def main(scheduler: str, description: str, argv=None) -> Path:
    from objectives.data import DataNotFoundError

    args = build_parser(scheduler, description).parse_args(argv)
    tuner = None
    try:
        if args.resume:
            plan, tuner = plan_resume(args)
        else:
            plan = make_plan(args)
    except (UsageError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(
        f"Tuning {plan.objective.name} with {plan.scheduler}: {plan.n_workers} worker(s), "
        f"{plan.threads_per_trial} thread(s) per trial, {plan.args.max_wallclock_time:g} s budget, "
        + ("simulated from recorded curves" if plan.simulated
           else f"{'synthetic' if plan.args.smoke else 'real'} data")
        + (f", on a Ray cluster of {len(plan.cluster.nodes)} node(s) ({plan.cluster.cpus} CPUs, "
           f"{plan.cluster.gpus} GPUs)" if plan.cluster else ""),
        flush=True,
    )
    return run_and_summarize(lambda: run(plan, tuner))
