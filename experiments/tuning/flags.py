"""The command-line flags every launcher shares, and their translation into a `RunRequest`.

Flags are only parsed here; what they mean is checked by `plan.make_plan`, before anything
long starts or anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.schedulers import STUDY_SETTINGS, RungSettings
from experiments.tuning import resources
from experiments.tuning.plan import BACKENDS, DEFAULT_BUDGET_S, NAME_CHARACTERS, SMOKE_BUDGET_S, RunRequest
from objectives import BUILTIN_OBJECTIVES
from objectives.syne_tune_code import SyneTuneCode
from objectives.usage import UsageError

WORKERS_HELP = (
    "trials run at once (default: one per GPU, times --trials-per-gpu; without GPUs, one per 2 "
    f"CPUs and at least {resources.MIN_CPU_WORKERS}, so that asynchronous scheduling matters "
    f"(here {resources.default_workers(0, 1, resources.cpus_available())}); with --backend ray, the "
    "cluster's GPUs, or its nodes)"
)


def add_results_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where experiments are written (default $SYNETUNE_FOLDER or ~/syne-tune)")


def add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """When a run ends: whichever limit comes first. Counts of work done do not depend on how
    busy the machine is; trials still running at the end are ended with the run."""
    parser.add_argument("--max-wallclock-time", type=float, default=None, metavar="SECONDS",
                        help=f"tuning budget of each run in seconds; simulated seconds with "
                             f"--backend simulated (default {DEFAULT_BUDGET_S:g}, "
                             f"{SMOKE_BUDGET_S:g} with --smoke; none when --max-results or "
                             f"--max-trials is given)")
    parser.add_argument("--max-results", type=int, default=None, metavar="N",
                        help="end each run once N results have been reported (one per trial and "
                             "unit of resource: N epochs of training in all), however long that takes")
    parser.add_argument("--max-trials", type=int, default=None, metavar="N",
                        help="end each run once N trials have ended (trained to the maximum "
                             "resource, stopped by the scheduler, or failed)")


DEFAULT_OBJECTIVE = "fashion_mnist_lenet"


def add_objective_flags(parser: argparse.ArgumentParser, default: str | None = DEFAULT_OBJECTIVE,
                        default_help: str = "%(default)s") -> None:
    """What to tune: an objective of the suite, or Syne Tune code as it is (a training script or
    a tune function, with its config space and the names Syne Tune's schedulers are given)."""
    parser.add_argument("--objective", default=default,
                        help=f"what to tune: {', '.join(BUILTIN_OBJECTIVES)}, or your own as "
                             f"package.module:attribute or file.py:attribute: an Objective, a function "
                             f"returning one, or, with --config-space, a Syne Tune tune function "
                             f"(default {default_help})")
    code = parser.add_argument_group(
        "Syne Tune code", "a training script (--entry-point) or a tune function (--objective "
        "FILE.py:function), run as Syne Tune's LocalBackend and PythonBackend run them")
    code.add_argument("--entry-point", metavar="SCRIPT.py", default=None,
                      help="a Syne Tune training script: one flag per entry of the config space, "
                           "--st_checkpoint_dir, and syne_tune.Reporter() after each epoch")
    code.add_argument("--config-space", metavar="FILE.py:NAME", default=None,
                      help="its config space: Syne Tune domains are the hyperparameters, other "
                           "values constants passed to the code as they are")
    code.add_argument("--metric", default=None,
                      help=f"the reported metric to optimise (default {SyneTuneCode.metric})")
    code.add_argument("--mode", default=None, choices=("min", "max"),
                      help=f"minimise or maximise it (default {SyneTuneCode.mode})")
    code.add_argument("--resource-attr", default=None,
                      help=f"the reported resource, counted 1, 2, ... (default {SyneTuneCode.resource_attr})")
    code.add_argument("--max-resource-attr", default=None, metavar="NAME",
                      help="the config space's constant holding the maximum resource (such as "
                           "max_epochs): each run is passed how far it may train through it")


CODE_FLAGS = {"metric": "--metric", "mode": "--mode", "resource_attr": "--resource-attr",
              "max_resource_attr": "--max-resource-attr"}


def objective_spec(args: argparse.Namespace) -> str:
    """The --objective text of what the flags name: as given, or, for Syne Tune code, the
    `SyneTuneCode` spec (paths made absolute, so that trials and resumed runs find them
    wherever they start)."""
    names = {field: getattr(args, field) for field in CODE_FLAGS if getattr(args, field) is not None}
    if args.entry_point is None and args.config_space is None:
        if names:
            raise UsageError(f"{', '.join(CODE_FLAGS[f] for f in names)}: these describe Syne Tune code; "
                             f"give its --entry-point SCRIPT.py or its tune function as --objective "
                             f"FILE.py:function, with --config-space FILE.py:NAME")
        return args.objective
    if args.config_space is None:
        raise UsageError("--entry-point: give the script's config space with --config-space FILE.py:NAME")
    if args.entry_point is not None and args.objective not in (None, DEFAULT_OBJECTIVE):
        raise UsageError(f"--entry-point and --objective {args.objective}: give a script or an "
                         f"objective, not both")
    if args.entry_point is None and (args.objective is None or args.objective in BUILTIN_OBJECTIVES
                                     or ":" not in args.objective):
        raise UsageError("--config-space: give the Syne Tune code it belongs to, a script as "
                         "--entry-point SCRIPT.py or a tune function as --objective FILE.py:function")
    if "max_resource_attr" not in names:
        raise UsageError("--max-resource-attr: name the config space's constant that holds the maximum "
                         "resource (such as max_epochs), through which each run learns how far to train")
    code = SyneTuneCode(
        config_space=absolute_location(args.config_space), **names,
        **({"entry_point": str(Path(args.entry_point).expanduser().resolve())} if args.entry_point
           else {"function": absolute_location(args.objective)}))
    return code.spec


def absolute_location(spec: str) -> str:
    """`file.py:name` with the file's absolute path; `module:name` as it is."""
    where, _, name = spec.rpartition(":")
    return f"{Path(where).expanduser().resolve()}:{name}" if where.endswith(".py") else spec


def add_run_flags(parser: argparse.ArgumentParser, *, backends=BACKENDS, resume: bool = True,
                  experiment_name: bool = True, max_failures: bool = True, settings: RungSettings = STUDY_SETTINGS
                  ) -> None:
    """The flags of one tuning run (a comparison's runs share them); `settings`: the default
    grace period and reduction factor. Ray Tune's own tuner (run_ray_tune.py) goes on past any
    number of failed trials: no --max-failures there."""
    add_objective_flags(parser)
    parser.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    add_limit_flags(parser)
    add_scheduler_flags(parser, settings)
    parser.add_argument("--data-dir", default=None,
                        help="where the data set is (see docs/reference.md, Data)")
    parser.add_argument("--smoke", action="store_true",
                        help="synthetic data shaped like the real set: a quick check of the set-up")
    add_results_flags(parser)
    if experiment_name:
        parser.add_argument("--experiment-name", default=None,
                            help=f"name prefix, {NAME_CHARACTERS}; a timestamp is appended "
                                 "(default: METHOD-OBJECTIVE)")
    if max_failures:
        parser.add_argument("--max-failures", type=int, default=20,
                            help="failed trials tolerated before tuning is aborted (default %(default)s)")
    add_trial_flags(parser)
    add_backend_flags(parser, backends)
    if resume:
        parser.add_argument("--resume", metavar="EXPERIMENT", default=None,
                            help="continue an interrupted experiment (name, prefix, path or "
                                 "'latest' under --results-dir) to its original limits, with its "
                                 "own settings (no other flag may be given). Unlike every analysis "
                                 "command, this loads code the experiment names: its pickled tuner "
                                 "and its objective. Resume only experiments you made yourself")


def add_scheduler_flags(parser: argparse.ArgumentParser, settings: RungSettings = STUDY_SETTINGS) -> None:
    """How the scheduler compares trials and samples configurations."""
    parser.add_argument("--max-resource", "--max-epochs", dest="max_resource", type=int,
                        default=None, metavar="N",
                        help="resource (epochs) of a fully trained trial, the schedulers' max_t "
                             "(default: the objective's)")
    parser.add_argument("--grace-period", type=int, default=settings.grace_period,
                        help="r_min: resource a trial gets before its first rung (default %(default)s)")
    parser.add_argument("--reduction-factor", type=int, default=settings.reduction_factor,
                        help="eta: 1/eta of a rung is promoted (default %(default)s)")
    parser.add_argument("--brackets", type=int, default=None,
                        help="1 = successive halving; more = Hyperband brackets (default: 1, and "
                             "one per rung level for the Hyperband methods)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the scheduler's sampling and the trials' initial weights "
                             "(default %(default)s)")


def add_trial_flags(parser: argparse.ArgumentParser) -> None:
    """What each trial uses and searches."""
    parser.add_argument("--cpus-per-trial", type=int, default=None,
                        help="CPU threads each trial uses (default: the CPUs split evenly among the "
                             "workers; 1 per trial on GPUs)")
    parser.add_argument("--trials-per-gpu", type=int, default=1, metavar="K",
                        help="trials sharing each GPU at once (default %(default)s)")
    parser.add_argument("--search-space", default="full", choices=["full", "recorded"],
                        help="'full': the objective's search space; 'recorded': only the "
                             "configurations of its recorded table, so that real and simulated "
                             "runs can be compared trial by trial (default %(default)s)")


def add_backend_flags(parser: argparse.ArgumentParser, backends) -> None:
    """Where trials run: this machine's processes, the simulator, or a Ray cluster."""
    if len(backends) > 1:
        parser.add_argument("--backend", default="warm",
                            help="how trials run: 'warm' (forked from a process with torch and the "
                                 "data already loaded), 'python' (Syne Tune's PythonBackend: a new "
                                 "process per trial), 'simulated' (replayed from the objective's "
                                 "recorded learning curves in simulated time) or 'ray' (Ray tasks "
                                 "on the nodes of a Ray cluster) (default %(default)s)")
    if "simulated" in backends:
        parser.add_argument("--startup-s", type=float, default=RunRequest.startup_s,
                            help="--backend simulated: simulated start-up of each trial in "
                                 "seconds (default %(default)s)")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="--backend ray: the cluster to join, as `ray start --head` prints it "
                             "(default: a local Ray started for this run)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="--backend ray: a folder every node can read and write, for the "
                             "trials' checkpoints (default: inside the experiment folder, right "
                             "when all nodes share this machine's disk)")


def add_many_runs_flags(parser: argparse.ArgumentParser, *, results_dir: Path | None, results_help: str,
                        output_dir: Path, output_help: str) -> None:
    """--jobs, --results-dir and --output-dir of a command that runs many simulated runs, then
    writes a report of them (the study, the scaling study)."""
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once (default: one per core this process may use)")
    parser.add_argument("--results-dir", type=Path, default=results_dir, help=results_help)
    parser.add_argument("--output-dir", type=Path, default=output_dir, help=output_help)


def request_from(args: argparse.Namespace, method: str) -> RunRequest:
    return RunRequest(
        objective=objective_spec(args), method=method, workers=args.workers,
        budget_s=args.max_wallclock_time, max_results=args.max_results, max_trials=args.max_trials,
        max_resource=args.max_resource,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        brackets=args.brackets, seed=args.seed, backend=getattr(args, "backend", "ray"),
        data_dir=args.data_dir, smoke=args.smoke, search_space=args.search_space,
        results_dir=args.results_dir, experiment_name=getattr(args, "experiment_name", None),
        max_failures=getattr(args, "max_failures", RunRequest.max_failures), cpus_per_trial=args.cpus_per_trial,
        trials_per_gpu=args.trials_per_gpu,
        startup_s=getattr(args, "startup_s", RunRequest.startup_s),
        ray_address=args.ray_address, checkpoint_dir=args.checkpoint_dir,
    )


def refuse_flags_beside_resume(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--resume continues with the experiment's own settings: any other flag would be ignored."""
    defaults = vars(parser.parse_args([]))
    given = ["--" + dest.replace("_", "-") for dest, value in vars(args).items()
             if dest not in ("resume", "results_dir") and value != defaults.get(dest)]
    if given:
        raise UsageError(f"--resume continues the experiment with its own settings: leave out "
                         f"{', '.join(given)}")


def comma_list(flag: str, text: str, kind=str) -> tuple:
    """`a,b,c` as a tuple of `kind`, in the order given, each once; UsageError naming `flag`
    for an empty or unparsable list."""
    try:
        values = tuple(dict.fromkeys(kind(v.strip()) for v in text.split(",") if v.strip()))
    except ValueError:
        values = ()
    if not values:
        raise UsageError(f"{flag} {text!r}: give a comma-separated list")
    return values
