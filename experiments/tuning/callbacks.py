"""Tuner callbacks: results, a worker timeline for the analysis, progress lines for the user.

All of them measure time on the tuner's own clock (`tuner.tuning_status.start_time`), so that
a resumed experiment continues its times where the interrupted run stopped; simulated runs use
the simulator's clock.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

from syne_tune.backend.trial_status import Status
from syne_tune.constants import ST_TRIAL_ID, ST_TUNER_TIME, ST_WORKER_TIMESTAMP
from syne_tune.optimizer.scheduler import SchedulerDecision
from syne_tune.report import retrieve
from syne_tune.results_callback import StoreResultsCallback
from syne_tune.tuner_callback import TunerCallback
from syne_tune.tuner_logger import TunerLogger

from analysis.experiment_folder import (
    TRIAL_BRACKETS, TimelineSegment, lowest_free_worker, update_metadata, write_results, write_timeline)
from experiments.compat.syne_tune import FastForward
from experiments.schedulers.divergence import is_finite_number
from objectives.trial import ReportWithoutMetric

ENDED = {Status.completed, Status.failed, Status.stopped, Status.paused}


def count_kept_results(tuner, kept: int) -> None:
    """Make the tuning status count the results kept in the results file. Syne Tune counts
    every report it fetched, also those after a stop or pause decision in the same poll, which
    it then drops: a limit on results (--max-results, `max_num_evaluations`) would end a run
    short of its results. Called at the end of each tuner loop, just before the stop check."""
    tuner.tuning_status.overall_metric_statistics.count = kept


def with_hyperparameters_only(trial, hyperparameters: set[str] | None):
    """The trial as the results file should show it: its searched hyperparameters only (the
    resource bound a scheduler sets for each run is not a hyperparameter)."""
    if hyperparameters is None:
        return trial
    return dataclasses.replace(trial, config={k: v for k, v in trial.config.items()
                                              if k in hyperparameters})


class StoreResults(StoreResultsCallback):
    """Syne Tune's results file, with `st_tuner_time` on the tuner's clock, `config_*` columns
    for the searched hyperparameters only, written atomically."""

    def __init__(self, hyperparameters: set[str] | None = None):
        super().__init__(add_wallclock_time=False)  # st_tuner_time is set here instead
        self.hyperparameters = hyperparameters
        self.tuner = None
        self.trials = {}  # trial_id -> Trial, for the last fetch at the end

    def on_tuning_start(self, tuner):
        super().on_tuning_start(tuner)
        self.tuner = tuner

    def on_start_trial(self, trial):
        self.trials[trial.trial_id] = trial

    def on_trial_result(self, trial, status, result, decision):
        self.trials[trial.trial_id] = trial
        result = {**result, ST_TUNER_TIME: time.perf_counter() - self.tuner.tuning_status.start_time}
        super().on_trial_result(with_hyperparameters_only(trial, self.hyperparameters), status,
                                result, decision)

    def on_loop_end(self):
        count_kept_results(self.tuner, len(self.results))

    def store_results(self):
        if self.csv_file is not None and self.results:
            write_results(self.tuner.tuner_path, self.dataframe())

    def on_tuning_end(self):
        # Results printed by running trials since the tuner's last poll (just before a Ctrl-C,
        # or the end of the budget) would be lost: fetch them once more. The backend's fetch
        # moves its read position past them, so a resumed run does not deliver them again.
        status = self.tuner.tuning_status
        running = [trial_id for trial_id, trial_status in status.last_trial_status_seen.items()
                   if trial_status == Status.in_progress and trial_id in self.trials]
        if running:
            backend = self.tuner.trial_backend
            _, new_results = backend.fetch_status_results(running)
            for trial_id, result in new_results:
                self.on_trial_result(self.trials[trial_id], Status.in_progress, result,
                                     decision="NONE")  # seen by no scheduler
            # A poll that the interruption cut short between reading the reports and handing
            # them on leaves them past the read position but in no result: add them from the
            # trial's output (each report is identified by its worker timestamp).
            seen = {(r[ST_TRIAL_ID], r.get(ST_WORKER_TIMESTAMP)) for r in self.results}
            for trial_id in running:
                for report in retrieve(backend.stdout(trial_id)):
                    if (trial_id, report.get(ST_WORKER_TIMESTAMP)) not in seen:
                        self.on_trial_result(self.trials[trial_id], Status.in_progress, report,
                                             decision="NONE")
        super().on_tuning_end()


class SimulatedResults(FastForward):
    """Syne Tune's simulator callback (simulated clock and stop, idle polls skipped), with
    `config_*` columns for the searched hyperparameters only."""

    def __init__(self, hyperparameters: set[str] | None = None):
        super().__init__()
        self.hyperparameters = hyperparameters
        self.tuner = None

    def on_tuning_start(self, tuner):
        super().on_tuning_start(tuner)
        self.tuner = tuner

    def on_trial_result(self, trial, status, result, decision):
        super().on_trial_result(with_hyperparameters_only(trial, self.hyperparameters), status,
                                result, decision)

    def on_loop_end(self):
        super().on_loop_end()
        count_kept_results(self.tuner, len(self.results))


class WorkerTimeline(TunerCallback):
    """Records when each trial ran and on which worker slot, in tuner time (seconds), and
    writes it into the experiment's metadata at the end (`analysis.experiment_folder`'s
    timeline schema): one segment per run of a trial (a paused and resumed trial has several),
    failed runs with the last line of their stderr."""

    def __init__(self):
        self.segments: list[TimelineSegment] = []
        self.open: dict[int, TimelineSegment] = {}  # trial_id -> its running segment
        self.tuner = None

    def now(self) -> float:
        keeper = getattr(self.tuner.trial_backend, "time_keeper", None)
        if keeper is not None:  # simulated run: the simulator's clock
            return keeper.time()
        return time.perf_counter() - self.tuner.tuning_status.start_time

    def on_tuning_start(self, tuner):
        self.tuner = tuner

    def _begin(self, trial):
        segment = TimelineSegment(trial_id=trial.trial_id, worker=lowest_free_worker(self.open.values()),
                                  start_s=self.now(), start_unix=time.time())
        self.open[trial.trial_id] = segment
        self.segments.append(segment)

    def _end(self, trial_id: int, status: str):
        segment = self.open.pop(trial_id, None)
        if segment is not None:
            segment.end_s = self.now()
            segment.status = status
            if status == Status.failed:
                segment.error = self._last_error_line(trial_id)

    def _last_error_line(self, trial_id: int) -> str:
        return last_error_line(self.tuner.trial_backend, trial_id)

    def on_start_trial(self, trial):
        self._begin(trial)

    def on_resume_trial(self, trial):
        self._begin(trial)

    def on_trial_result(self, trial, status, result, decision):
        if decision == SchedulerDecision.STOP:
            self._end(trial.trial_id, Status.stopped)
        elif decision == SchedulerDecision.PAUSE:
            self._end(trial.trial_id, Status.paused)

    def on_fetch_status_results(self, trial_status_dict, new_results):
        for trial_id, (_, status) in trial_status_dict.items():
            if status in ENDED:
                self._end(trial_id, status)

    def on_tuning_end(self):
        # Trials still running now are killed by the tuner right after this call.
        for trial_id in list(self.open):
            self._end(trial_id, "Killed")
        if self.tuner is not None:
            write_timeline(self.tuner.tuner_path, self.segments)


def last_error_line(backend, trial_id: int) -> str:
    """The last non-empty line a trial wrote to stderr (the exception, usually), or how its
    process ended when it wrote nothing (killed by a signal, say)."""
    try:
        lines = backend.stderr(trial_id)
    except OSError:
        lines = []
    lines = [line.strip() for line in lines if line.strip()]
    if lines:
        return lines[-1][:500]
    return exit_description(backend, trial_id)


class MetricNotReported(Exception):
    """Syne Tune code reported without the metric or resource its flags name."""


class StopAtMissingMetric(TunerCallback):
    """Syne Tune code is told its metric and resource names by flags (--metric, --resource-attr):
    a name that differs from what the code reports fails every trial alike, so the run stops at
    the first such failure, with the names the code did report, rather than failing trial after
    trial up to --max-failures."""

    def __init__(self):
        self.tuner = None

    def on_tuning_start(self, tuner):
        self.tuner = tuner

    def on_fetch_status_results(self, trial_status_dict, new_results):
        for trial_id, (_, status) in trial_status_dict.items():
            if status == Status.failed:
                line = last_error_line(self.tuner.trial_backend, trial_id)
                marker = f"{ReportWithoutMetric.__name__}: "
                if marker in line:
                    raise MetricNotReported(line.split(marker, 1)[1])


class PausedForGood(TunerCallback):
    """Synchronous SH pauses every trial at its rung and, once the rung is complete, leaves the
    ones it does not promote paused for good. Syne Tune's tuning status would count them as
    paused forever; here they count as stopped, as ASHA's losers do, so that a limit on the
    trials ended (--max-trials) counts them."""

    def __init__(self):
        self.tuner = None

    def on_tuning_start(self, tuner):
        self.tuner = tuner

    def on_loop_end(self):
        statuses = self.tuner.tuning_status.last_trial_status_seen
        for trial_id in getattr(self.tuner.scheduler, "not_promoted", ()):
            if statuses.get(trial_id) == Status.paused:
                statuses[trial_id] = Status.stopped


class BracketRecord(TunerCallback):
    """Asynchronous Hyperband draws a bracket for each trial at its start and forgets it when
    the trial ends: this keeps each trial's bracket (as its rung levels) in the metadata
    (TRIAL_BRACKETS), so that where a trial stopped can be checked against its own rungs."""

    def __init__(self):
        self.tuner = None
        self.levels: dict[str, list[int]] = {}

    def on_tuning_start(self, tuner):
        self.tuner = tuner

    def on_start_trial(self, trial):
        bracket = getattr(self.tuner.scheduler, "trial_info", {}).get(trial.trial_id)
        if bracket is not None:
            self.levels[str(trial.trial_id)] = sorted(int(level) for level, _ in bracket.rungs)

    def on_tuning_end(self):
        if self.levels and len(getattr(self.tuner.scheduler, "brackets", [])) > 1:
            update_metadata(self.tuner.tuner_path, **{TRIAL_BRACKETS: self.levels})


def exit_description(backend, trial_id: int) -> str:
    """How a trial's process ended, for a failure that left stderr empty."""
    import signal

    handle = getattr(backend, "trial_subprocess", {}).get(trial_id)
    code = handle.poll() if handle is not None else None
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}, stderr empty"
    if code is not None:
        return f"exited with code {code}, stderr empty"
    return "exited with an error, stderr empty"


class HyperparameterLogger(TunerLogger):
    """Syne Tune's console output, with trial start lines that show the searched hyperparameters
    only (not the resource bound a scheduler sets for each run; Syne Tune's status tables leave
    it out by its `st_` prefix)."""

    def __init__(self, hyperparameters: set[str], **kwargs):
        super().__init__(**kwargs)
        self.hyperparameters = hyperparameters

    def _only_hyperparameters(self, config: dict | None) -> dict | None:
        return None if config is None else {k: v for k, v in config.items() if k in self.hyperparameters}

    def print_trial_started(self, trial_id: int, config: dict):
        super().print_trial_started(trial_id, self._only_hyperparameters(config))

    def print_trial_resumed(self, trial_id: int, config: dict | None = None):
        super().print_trial_resumed(trial_id, None)  # a resumed trial keeps its hyperparameters


class QuietLogger(TunerLogger):
    """Says nothing: simulated runs start hundreds of trials a second."""

    def __getattribute__(self, name):
        if name.startswith("print_"):
            return lambda *args, **kwargs: None
        return super().__getattribute__(name)


class ProgressPrinter(TunerCallback):
    """One line per trial that is stopped, paused or improves on the best, so that a long run
    shows its progress."""

    def __init__(self, metric: str, mode: str, resource_attr: str, max_t: int, scheduler_name: str):
        self.metric = metric
        self.sign = 1 if mode == "min" else -1
        self.resource_attr = resource_attr
        self.max_t = max_t
        self.scheduler_name = scheduler_name
        self.best = math.inf  # in minimisation terms
        self.start = None
        self.stopped = 0

    def on_tuning_start(self, tuner):
        self.start = tuner.tuning_status.start_time

    def _say(self, text: str):
        print(f"[{time.perf_counter() - self.start:7.1f}s] {text}", flush=True)

    def on_trial_result(self, trial, status, result, decision):
        value = result.get(self.metric)
        level = result.get(self.resource_attr)
        if value is None:
            return
        if not is_finite_number(value):
            self._say(f"trial {trial.trial_id} diverged at {self.resource_attr} {level} "
                      f"({self.metric} {value}): stopped, counted as the worst result")
            return
        if self.sign * value < self.best:
            self.best = self.sign * value
            self._say(f"trial {trial.trial_id} {self.resource_attr} {level}: new best "
                      f"{self.metric} {value:.4g}")
        if decision == SchedulerDecision.PAUSE:
            self._say(f"trial {trial.trial_id} paused at {self.resource_attr} {level} "
                      f"({self.metric} {value:.4g}): its rung decides when complete")
        if decision == SchedulerDecision.STOP and level is not None and level < self.max_t:
            self.stopped += 1
            self._say(
                f"trial {trial.trial_id} stopped by {self.scheduler_name} at {self.resource_attr} "
                f"{level} ({self.metric} {value:.4g}); {self.stopped} stopped early so far, "
                f"best {self.sign * self.best:.4g}"
            )


def console_logger(hyperparameters: set[str], quiet: bool) -> TunerLogger:
    if quiet:
        return QuietLogger()
    return HyperparameterLogger(hyperparameters, use_colors=sys.stdout.isatty(), use_emojis=False)
