"""Tune an objective with Ray Tune's own ASHAScheduler, the system of Ray's ASHA tutorial.

    python experiments/run_ray_tune.py --workers 2 --max-wallclock-time 90
    python experiments/run_ray_tune.py --smoke --max-wallclock-time 20     # synthetic data
    python experiments/run_ray_tune.py --ray-address HOST:6379 --checkpoint-dir /shared/hpo

Same objectives, data, flags and trial sizing as `run_asha.py --backend ray`; only the tuner
differs (Ray Tune's random search and ASHA instead of Syne Tune's). Results are written in the
suite's experiment layout (results.csv.zip, metadata.json with a worker timeline, checkpoints
per trial), so `analysis.summarize`, `plot_learning_curves` and `compare` read them like any
other experiment; Ray Tune's own records stay in the experiment's `ray_tune/` folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from experiments import launcher
from experiments.launcher import METRIC, RESOURCE_ATTR, UsageError

METHOD = "ray_tune_asha"
TUNER_NAME = "ray_tune"  # Ray Tune's own folder inside the experiment
# Keys Ray Tune adds to every result; the rest is what the trial reported.
RAY_BOOKKEEPING = {"config", "trial_id", "done", "experiment_tag", "node_id", "checkpoint_dir_name",
                   "should_checkpoint", "iterations_since_restore", "timesteps_since_restore"}


def trial_number(ray_trial_id: str) -> int:
    """Ray Tune numbers trials PREFIX_00000, PREFIX_00001, ... in the order it creates them;
    the number is the trial's id in the suite's layout."""
    return int(ray_trial_id.rsplit("_", 1)[1])


def ray_search_space(search_space: dict) -> dict:
    """The objective's Syne Tune search space in Ray Tune's terms."""
    from ray import tune
    from syne_tune.config_space import Categorical, Domain, Float, Integer, is_log_space

    translated = {}
    for name, domain in search_space.items():
        if isinstance(domain, Categorical):
            translated[name] = tune.choice(list(domain.categories))
        elif isinstance(domain, Integer):  # Syne Tune's upper bound is inclusive, Ray's is not
            sample = tune.lograndint if is_log_space(domain) else tune.randint
            translated[name] = sample(domain.lower, domain.upper + 1)
        elif isinstance(domain, Float):
            sample = tune.loguniform if is_log_space(domain) else tune.uniform
            translated[name] = sample(domain.lower, domain.upper)
        elif isinstance(domain, Domain):
            raise UsageError(f"search space entry {name!r}: {type(domain).__name__} has no Ray "
                             f"Tune counterpart here; use choice, randint, uniform or loguniform")
        else:
            translated[name] = domain  # a constant
    return translated


def train_trial(config: dict, settings: dict) -> None:
    """Ray Tune's trainable: one trial of the suite's objective, reporting every epoch."""
    import ray
    from ray import tune

    from experiments.ray_backend import checkpoint_dir_of, ensure_data_file
    from objectives import load_objective, recorded_configurations

    hyperparameters = dict(config)
    if "config_id" in hyperparameters:  # --search-space recorded
        hyperparameters = recorded_configurations(settings["objective"])[hyperparameters["config_id"]]
    trial_id = trial_number(tune.get_context().get_trial_id())
    node_id = ray.get_runtime_context().get_node_id()
    ensure_data_file(settings["data_file"], settings["data_box"])

    def report(**metrics):
        tune.report({**metrics, "node_id": node_id})

    load_objective(settings["objective"]).run_trial(
        hyperparameters, settings["data_file"], settings["max_epochs"], settings["num_threads"],
        settings["seed"],
        str(checkpoint_dir_of(settings["experiment_dir"], trial_id, settings["checkpoint_root"])),
        report,
    )


def experiment_recorder(settings: dict, max_t: int):
    """A Ray Tune callback writing what happens in the suite's terms, on the driver's clock:
    one results row per report, a worker timeline, the node of each trial, progress lines.
    (Built here so that importing this module does not import Ray.)"""
    from ray.tune import Callback
    from ray.tune.result import AUTO_RESULT_KEYS
    from syne_tune.optimizer.scheduler import SchedulerDecision

    from experiments.callbacks import ProgressPrinter

    class ExperimentRecorder(Callback):
        def __init__(self):
            self.rows: list[dict] = []
            self.segments: list[dict] = []
            self.open: dict[int, dict] = {}  # trial id -> its running segment
            self.last_result: dict[int, tuple] = {}  # trial id -> (epoch, stopped by ASHA)
            self.trial_nodes: dict[str, str] = {}
            self.printer = ProgressPrinter(METRIC, RESOURCE_ATTR, max_t, "Ray Tune's ASHA")
            self.start = time.perf_counter()

        def now(self) -> float:
            return time.perf_counter() - self.start

        def setup(self, **info):
            self.start = self.printer.start = time.perf_counter()

        def on_trial_start(self, iteration, trials, trial, **info):
            busy = {segment["worker"] for segment in self.open.values()}
            segment = {"trial_id": trial_number(trial.trial_id),
                       "worker": next(i for i in range(len(busy) + 1) if i not in busy),
                       "start_s": self.now(), "start_unix": time.time(), "end_s": None,
                       "status": "InProgress"}
            self.open[segment["trial_id"]] = segment
            self.segments.append(segment)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            trial_id = trial_number(trial.trial_id)
            stop = bool(result.get("done"))  # Ray Tune sets it when the scheduler says STOP
            now = self.now()
            segment = self.open.get(trial_id)
            row = {key: value for key, value in result.items()
                   if key not in AUTO_RESULT_KEYS and key not in RAY_BOOKKEEPING
                   and not isinstance(value, dict)}
            row.update(
                trial_id=trial_id, st_tuner_time=now,
                st_worker_time=now - segment["start_s"] if segment else None,
                st_decision="STOP" if stop else "CONTINUE", st_status="InProgress",
                **{f"config_{key}": value for key, value in {**trial.config, **settings}.items()
                   if key not in ("data_box", "experiment_dir", "checkpoint_root")},
            )
            self.rows.append(row)
            self.last_result[trial_id] = (result.get(RESOURCE_ATTR, 0), stop)
            if "node_id" in result:
                self.trial_nodes[str(trial_id)] = result["node_id"]
            self.printer.on_trial_result(SimpleNamespace(trial_id=trial_id), None, result,
                                         SchedulerDecision.STOP if stop else SchedulerDecision.CONTINUE)

        def _end(self, trial_id: int, status: str, error: str | None = None):
            segment = self.open.pop(trial_id, None)
            if segment is not None:
                segment.update(end_s=self.now(), status=status)
                if error is not None:
                    segment["error"] = error

        def on_trial_complete(self, iteration, trials, trial, **info):
            trial_id = trial_number(trial.trial_id)
            epoch, stopped = self.last_result.get(trial_id, (0, False))
            # neither trained to max_t nor stopped by ASHA: ended by the budget
            self._end(trial_id, "Completed" if epoch >= max_t else "Stopped" if stopped else "Killed")

        def on_trial_error(self, iteration, trials, trial, **info):
            error = trial.get_error()
            lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
            self._end(trial_number(trial.trial_id), "Failed", lines[-1][:500] if lines else "failed")

        def on_experiment_end(self, trials, **info):
            for trial_id in list(self.open):
                self._end(trial_id, "Killed")

    return ExperimentRecorder()


def write_results(experiment_dir: Path, recorder) -> None:
    """results.csv.zip (atomically) and the timeline, as the Syne Tune launchers write them."""
    import pandas as pd

    from experiments.metadata import update_metadata

    results = pd.DataFrame(recorder.rows)
    if not results.empty:
        partial = experiment_dir / "results.partial.csv.zip"
        results.to_csv(partial, index=False)
        partial.replace(experiment_dir / "results.csv.zip")
    update_metadata(experiment_dir, trial_timeline=recorder.segments, trial_nodes=recorder.trial_nodes)


def make_plan(args: argparse.Namespace) -> launcher.Plan:
    """The same checks and trial sizing as `run_asha.py --backend ray`."""
    if args.backend != "ray":
        raise UsageError(f"--backend {args.backend}: Ray Tune runs its trials on Ray only; leave "
                         f"out --backend")
    if args.resume:
        raise UsageError("--resume: Ray Tune runs cannot be resumed here; start a new one")
    plan = launcher.make_plan(argparse.Namespace(**{**vars(args), "scheduler": "asha"}))
    return dataclasses.replace(plan, scheduler=METHOD,
                               experiment_name=args.experiment_name or
                               f"ray-tune-asha-{args.objective}".replace("_", "-"))


def run(plan: launcher.Plan) -> Path:
    """Tune with Ray Tune, write the experiment in the suite's layout, evaluate the best trial
    on the test split; return the experiment folder."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator
    from syne_tune.util import name_from_base

    from experiments.metadata import update_metadata
    from experiments.ray_backend import checkpoint_dir_of, ship_data
    from objectives import recorded_configurations

    # Ray Tune warns about every trial that the budget ended before its first report
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)

    experiment_dir = plan.results_dir / name_from_base(plan.experiment_name)
    experiment_dir.mkdir(parents=True)
    update_metadata(experiment_dir, **{**launcher.metadata_of(plan), "trial_backend": "ray_tune",
                                       "metric": METRIC, "metric_mode": "min"})
    if plan.args.search_space == "recorded":
        space = {"config_id": tune.choice(sorted(recorded_configurations(plan.objective.name)))}
        first = []
    else:
        space = ray_search_space(plan.objective.search_space)
        first = [dict(plan.objective.default_config)]  # as the Syne Tune launchers do
    settings = {"objective": plan.objective.name, "data_file": plan.data_file,
                "max_epochs": plan.max_epochs, "num_threads": plan.threads_per_trial,
                "seed": plan.args.seed, "experiment_dir": str(experiment_dir),
                "checkpoint_root": str(plan.checkpoint_dir) if plan.checkpoint_dir else None,
                "data_box": ship_data(plan.data_file, plan.cluster)}
    recorder = experiment_recorder(settings, plan.max_epochs)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_trial, settings=settings),
                            {"cpu": plan.threads_per_trial, "gpu": 1 if plan.n_gpus else 0}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=METRIC, mode="min",
            scheduler=ASHAScheduler(time_attr=RESOURCE_ATTR, max_t=plan.max_epochs,
                                    grace_period=plan.args.grace_period,
                                    reduction_factor=plan.args.reduction_factor,
                                    brackets=plan.args.brackets),
            # max_concurrent: the generator makes a trial only when a worker is free; without it,
            # num_samples=-1 queues hundreds of pending trials at the start
            search_alg=BasicVariantGenerator(points_to_evaluate=first, random_state=plan.args.seed,
                                             max_concurrent=plan.n_workers),
            num_samples=-1,  # sample until the budget ends
            time_budget_s=plan.args.max_wallclock_time,
        ),
        run_config=tune.RunConfig(name=TUNER_NAME, storage_path=str(experiment_dir),
                                  callbacks=[recorder], verbose=0),
    )
    try:
        tuner.fit()
    except KeyboardInterrupt as e:
        write_results(experiment_dir, recorder)
        raise launcher.interrupted(experiment_dir, e) from None
    write_results(experiment_dir, recorder)
    update_metadata(experiment_dir, **launcher.evaluate_best_on_test(
        plan, experiment_dir,
        lambda trial_id: checkpoint_dir_of(experiment_dir, trial_id, plan.checkpoint_dir)))
    return experiment_dir


def build_parser() -> argparse.ArgumentParser:
    parser = launcher.build_parser(METHOD, __doc__.split("\n\n")[0])
    parser.set_defaults(backend="ray")
    return parser


def main(argv=None) -> Path:
    from objectives.data import DataNotFoundError

    args = build_parser().parse_args(argv)
    try:
        plan = make_plan(args)
    except (UsageError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"Tuning {plan.objective.name} with Ray Tune's ASHA: {plan.n_workers} worker(s), "
          f"{plan.threads_per_trial} thread(s) per trial, {plan.args.max_wallclock_time:g} s budget, "
          f"{'synthetic' if plan.args.smoke else 'real'} data, on a Ray cluster of "
          f"{len(plan.cluster.nodes)} node(s)", flush=True)
    return launcher.run_and_summarize(lambda: run(plan))


if __name__ == "__main__":
    main()
