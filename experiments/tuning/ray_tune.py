"""Tune with Ray Tune's own ASHAScheduler, the system of Ray's ASHA tutorial, on the suite's
objectives, data, flags and trial sizing (as `--backend ray`); only the tuner differs (Ray
Tune's random search and ASHA instead of Syne Tune's).

Results are written in the suite's experiment layout (results.csv.zip, metadata.json with a
worker timeline and Syne Tune's metric names, checkpoints per trial), so the analysis and
Syne Tune's `load_experiment` read them like any other experiment; Ray Tune's own records stay
in the experiment's `ray_tune/` folder.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from types import SimpleNamespace

from analysis import experiment_folder as folder
from experiments.schedulers import RAY_TUNE_ASHA
from experiments.backends.ray_tune_trainable import RayTuneTrialFiles, train_trial, trial_number
from experiments.schedulers.sync_sh import rung_levels
from experiments.tuning.callbacks import ProgressPrinter
from experiments.tuning.plan import RunPlan, RunRequest, make_plan
from experiments.tuning.provenance import metadata_of
from experiments.tuning.run import evaluate_best_on_test, interrupted
from objectives.trial import TrialSettings
from objectives.usage import UsageError

TUNER_NAME = "ray_tune"  # Ray Tune's own folder inside the experiment
# Keys Ray Tune adds to every result; the rest is what the trial reported.
RAY_BOOKKEEPING = {"config", "trial_id", "done", "experiment_tag", "node_id", "checkpoint_dir_name",
                   "should_checkpoint", "iterations_since_restore", "timesteps_since_restore"}


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


class RunRecord:
    """What a Ray Tune run did, in the suite's terms and on the driver's clock: one results row
    per report, a worker timeline, the node of each trial. Ray Tune's callback
    (`experiment_recorder`) feeds it; `write_records` writes it."""

    def __init__(self, resource_attr: str, max_t: int):
        self.resource_attr = resource_attr
        self.max_t = max_t
        self.rows: list[dict] = []
        self.segments: list[folder.TimelineSegment] = []
        self.open: dict[int, folder.TimelineSegment] = {}  # trial id -> its running segment
        self.last_result: dict[int, tuple] = {}  # trial id -> (resource, stopped by ASHA)
        self.trial_nodes: dict[str, str] = {}
        self.start = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.start

    def trial_started(self, trial_id: int) -> None:
        segment = folder.TimelineSegment(
            trial_id=trial_id, worker=folder.lowest_free_worker(self.open.values()),
            start_s=self.now(), start_unix=time.time())
        self.open[segment.trial_id] = segment
        self.segments.append(segment)

    def trial_reported(self, trial_id: int, config: dict, result: dict, stop: bool) -> None:
        """One results row: what the trial reported, its configuration, Syne Tune's columns."""
        from ray.tune.result import AUTO_RESULT_KEYS

        now = self.now()
        segment = self.open.get(trial_id)
        row = {key: value for key, value in result.items()
               if key not in AUTO_RESULT_KEYS and key not in RAY_BOOKKEEPING
               and not isinstance(value, dict)}
        row.update(
            trial_id=trial_id, st_tuner_time=now,
            st_worker_time=now - segment.start_s if segment else None,
            st_decision="STOP" if stop else "CONTINUE", st_status="InProgress",
            **{f"config_{key}": value for key, value in config.items()},
        )
        self.rows.append(row)
        self.last_result[trial_id] = (result.get(self.resource_attr, 0), stop)
        if "node_id" in result:
            self.trial_nodes[str(trial_id)] = result["node_id"]

    def trial_ended(self, trial_id: int, status: str, error: str | None = None) -> None:
        segment = self.open.pop(trial_id, None)
        if segment is not None:
            segment.end_s, segment.status, segment.error = self.now(), status, error

    def trial_completed(self, trial_id: int) -> None:
        epoch, stopped = self.last_result.get(trial_id, (0, False))
        # neither trained to max_t nor stopped by ASHA: ended by the budget
        self.trial_ended(trial_id, "Completed" if epoch >= self.max_t else "Stopped" if stopped else "Killed")

    def trial_failed(self, trial_id: int, error) -> None:
        """Ended by an error: its last line (the exception) is what the summary shows."""
        lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
        self.trial_ended(trial_id, "Failed", lines[-1][:500] if lines else "failed")

    def run_ended(self) -> None:
        for trial_id in list(self.open):
            self.trial_ended(trial_id, "Killed")


def experiment_recorder(plan: RunPlan):
    """A Ray Tune callback recording what happens in a RunRecord and printing progress lines.
    (Built here so that importing this module does not import Ray.)"""
    from ray.tune import Callback
    from syne_tune.optimizer.scheduler import SchedulerDecision

    objective = plan.objective

    class ExperimentRecorder(RunRecord, Callback):
        def __init__(self):
            super().__init__(objective.resource_attr, plan.max_resource)
            self.printer = ProgressPrinter(objective.metric, objective.mode, objective.resource_attr,
                                           plan.max_resource, "Ray Tune's ASHA")

        def setup(self, **info):
            self.start = self.printer.start = time.perf_counter()

        def on_trial_start(self, iteration, trials, trial, **info):
            self.trial_started(trial_number(trial.trial_id))

        def on_trial_result(self, iteration, trials, trial, result, **info):
            trial_id = trial_number(trial.trial_id)
            stop = bool(result.get("done"))  # Ray Tune sets it when the scheduler says STOP
            self.trial_reported(trial_id, trial.config, result, stop)
            self.printer.on_trial_result(SimpleNamespace(trial_id=trial_id), None, result,
                                         SchedulerDecision.STOP if stop else SchedulerDecision.CONTINUE)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.trial_completed(trial_number(trial.trial_id))

        def on_trial_error(self, iteration, trials, trial, **info):
            self.trial_failed(trial_number(trial.trial_id), trial.get_error())

        def on_experiment_end(self, trials, **info):
            self.run_ended()

    return ExperimentRecorder()


def ray_asha(plan: RunPlan):
    """Ray Tune's ASHAScheduler with the plan's settings, stopping a trial at its first NaN or
    infinite result (Ray's ASHA, like Syne Tune's, would promote it: a NaN never falls below
    its rung's cut-off; see experiments/schedulers/divergence.py for the suite's schedulers)."""
    from ray.tune.schedulers import ASHAScheduler

    from experiments.schedulers.divergence import is_finite_number

    metric = plan.objective.metric

    class DivergenceAwareRayASHA(ASHAScheduler):
        def on_trial_result(self, tune_controller, trial, result):
            if metric in result and not is_finite_number(result[metric]):
                return self.STOP
            return super().on_trial_result(tune_controller, trial, result)

    return DivergenceAwareRayASHA(time_attr=plan.objective.resource_attr, max_t=plan.max_resource,
                                  grace_period=plan.grace_period, reduction_factor=plan.reduction_factor,
                                  brackets=plan.brackets)


def count_limits(plan: RunPlan, recorder):
    """A Ray Tune stopper that ends the run at the plan's count limits (results reported,
    trials ended), as Syne Tune's StoppingCriterion does for the other launchers; None when
    the plan has none."""
    if plan.max_results is None and plan.max_trials is None:
        return None
    from ray.tune.stopper import Stopper

    class CountLimits(Stopper):
        def __call__(self, trial_id, result) -> bool:
            return False  # no single trial is stopped for the run's limits

        def stop_all(self) -> bool:
            ended = len(recorder.segments) - len(recorder.open)
            return ((plan.max_results is not None and len(recorder.rows) >= plan.max_results)
                    or (plan.max_trials is not None and ended >= plan.max_trials))

    return CountLimits()


def write_records(experiment_dir: Path, recorder) -> None:
    """results.csv.zip and the timeline, as the Syne Tune launchers write them."""
    import pandas as pd

    if recorder.rows:
        folder.write_results(experiment_dir, pd.DataFrame(recorder.rows))
    folder.write_timeline(experiment_dir, recorder.segments)
    folder.update_metadata(experiment_dir, **{folder.TRIAL_NODES: recorder.trial_nodes})


def make_ray_tune_plan(request: RunRequest) -> RunPlan:
    """The same checks and trial sizing as `run_asha.py --backend ray`."""
    if request.backend != "ray":
        raise UsageError(f"Ray Tune runs its trials on Ray only (got backend {request.backend})")
    plan = make_plan(request.replace(method="asha"))
    name = request.experiment_name or f"ray-tune-asha-{plan.objective.name}".replace("_", "-")
    return dataclasses.replace(plan, method=RAY_TUNE_ASHA, experiment_name=name)


def start_experiment_folder(plan: RunPlan) -> Path:
    """The new experiment's folder, with the metadata the Syne Tune launchers write."""
    from syne_tune.util import name_from_base

    from experiments.tuning.build import hyperparameter_names

    objective = plan.objective
    name = name_from_base(plan.experiment_name) if plan.timestamp_name else plan.experiment_name
    experiment_dir = plan.results_dir / name
    experiment_dir.mkdir(parents=True)
    # Syne Tune's own keys too, so that its load_experiment(...).metric_names() etc. work
    folder.update_metadata(experiment_dir, **{
        **metadata_of(plan, rung_levels(plan.grace_period, plan.reduction_factor, plan.max_resource),
                      hyperparameter_names(plan)),
        folder.TRIAL_BACKEND: "ray_tune", folder.METRIC: objective.metric,
        folder.METRIC_NAMES: [objective.metric], folder.METRIC_MODE: objective.mode,
        "entrypoint": "ray_tune", "backend": "RayTune",
    })
    return experiment_dir


def ray_tune_space(plan: RunPlan) -> dict:
    """What Ray Tune samples: what the Syne Tune launchers search (the objective's space, or the
    recorded configurations by id), in Ray Tune's terms."""
    from experiments.tuning.build import search_space_of

    return ray_search_space(search_space_of(plan))


def trial_files(plan: RunPlan, experiment_dir: Path, settings: TrialSettings) -> RayTuneTrialFiles:
    """Where the trials write checkpoints and find the data set (shipped through Ray's object
    store where some node may lack it)."""
    from experiments.backends.ray_tasks import data_file_of, ship_code, ship_data

    data_file = data_file_of(settings)
    return RayTuneTrialFiles(
        experiment_dir=str(experiment_dir),
        checkpoint_root=str(plan.checkpoint_root) if plan.checkpoint_root else None,
        data_file=data_file, data_box=ship_data(data_file, plan.cluster),
        code_box=ship_code(settings, plan.cluster))


def build_ray_tuner(plan: RunPlan, experiment_dir: Path, recorder):
    """Ray Tune's Tuner: random search and Ray's ASHA over the plan's space, trials sized as the
    plan says, `recorder` told of every event, stopped at the plan's limits."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from experiments.tuning.build import first_configurations, trial_settings

    objective = plan.objective
    space = ray_tune_space(plan)
    settings = trial_settings(plan)
    trainable = tune.with_parameters(train_trial, settings=settings,
                                     files=trial_files(plan, experiment_dir, settings))
    return tune.Tuner(
        tune.with_resources(trainable, {"cpu": plan.trial_resources.cpus, "gpu": plan.trial_resources.gpus}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=objective.metric, mode=objective.mode,
            scheduler=ray_asha(plan),
            # max_concurrent: the generator makes a trial only when a worker is free; without it,
            # num_samples=-1 queues hundreds of pending trials at the start
            search_alg=BasicVariantGenerator(points_to_evaluate=first_configurations(plan),
                                             random_state=plan.seed, max_concurrent=plan.n_workers),
            num_samples=-1,  # sample until a limit ends the run
            time_budget_s=plan.budget_s,
        ),
        run_config=tune.RunConfig(name=TUNER_NAME, storage_path=str(experiment_dir),
                                  callbacks=[recorder], stop=count_limits(plan, recorder), verbose=0),
    )


def run_ray_tune(plan: RunPlan) -> Path:
    """Tune with Ray Tune, write the experiment in the suite's layout, evaluate the best trial
    on the test data; return the experiment folder."""
    # Ray Tune warns about every trial that the budget ended before its first report
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)

    experiment_dir = start_experiment_folder(plan)
    recorder = experiment_recorder(plan)
    tuner = build_ray_tuner(plan, experiment_dir, recorder)
    try:
        tuner.fit()
    except KeyboardInterrupt as e:
        write_records(experiment_dir, recorder)
        raise interrupted(experiment_dir, e) from None
    write_records(experiment_dir, recorder)
    folder.update_metadata(experiment_dir, **evaluate_best_on_test(
        plan, experiment_dir,
        lambda trial_id: folder.checkpoint_folder(experiment_dir, trial_id, plan.checkpoint_root)),
        **{folder.FINISHED: True})
    return experiment_dir
