"""Tuner callbacks: results, a worker timeline for the analysis, progress lines for the user.

All of them measure time on the tuner's own clock (`tuner.tuning_status.start_time`), so that
a resumed experiment continues its times where the interrupted run stopped.
"""

from __future__ import annotations

import math
import time

from syne_tune.backend.trial_status import Status
from syne_tune.optimizer.scheduler import SchedulerDecision
from syne_tune.results_callback import StoreResultsCallback
from syne_tune.tuner_callback import TunerCallback
from syne_tune.tuner_logger import TunerLogger

from experiments.metadata import update_metadata

ENDED = {Status.completed, Status.failed, Status.stopped, Status.paused}


class StoreResults(StoreResultsCallback):
    """Syne Tune's results file, with `st_tuner_time` on the tuner's clock."""

    def on_tuning_start(self, tuner):
        super().on_tuning_start(tuner)
        self._start_time_stamp = tuner.tuning_status.start_time
        self.tuner = tuner

    def on_tuning_end(self):
        # Results printed by trials since the tuner's last poll (just before a Ctrl-C, or the
        # end of the budget) would be lost: fetch them once more before writing the file.
        status = self.tuner.tuning_status
        running = [trial_id for trial_id, trial_status in status.last_trial_status_seen.items()
                   if trial_status == Status.in_progress]
        if running:
            backend = self.tuner.trial_backend
            _, new_results = backend.fetch_status_results(running)
            for trial_id, result in new_results:
                self.on_trial_result(backend._trial_dict[trial_id], Status.in_progress, result,
                                     decision="NONE")  # seen by no scheduler
        super().on_tuning_end()


class WorkerTimeline(TunerCallback):
    """Records when each trial ran and on which worker slot, in tuner time (seconds).

    Syne Tune does not number its local workers, so slots are assigned here: a starting (or
    resumed) trial takes the lowest free slot. At the end the timeline is written into the
    experiment's metadata.json as `trial_timeline`: a list of
    `{trial_id, worker, start_s, start_unix, end_s, status}`, plus `error` (the last line of the
    trial's stderr) for failed ones; one entry per run of a trial (a paused and resumed trial
    has several).
    """

    def __init__(self):
        self.segments: list[dict] = []
        self.open: dict[int, dict] = {}  # trial_id -> its running segment
        self.start = None
        self.tuner = None

    def now(self) -> float:
        keeper = getattr(self.tuner.trial_backend, "time_keeper", None)
        if keeper is not None:  # simulated run: the simulator's clock
            return keeper.time()
        return time.perf_counter() - self.start

    def on_tuning_start(self, tuner):
        self.tuner = tuner
        self.start = tuner.tuning_status.start_time

    def _begin(self, trial):
        busy = {segment["worker"] for segment in self.open.values()}
        worker = next(i for i in range(len(busy) + 1) if i not in busy)
        segment = {"trial_id": trial.trial_id, "worker": worker, "start_s": self.now(),
                   "start_unix": time.time(), "end_s": None, "status": Status.in_progress}
        self.open[trial.trial_id] = segment
        self.segments.append(segment)

    def _end(self, trial_id: int, status: str):
        segment = self.open.pop(trial_id, None)
        if segment is not None:
            segment["end_s"] = self.now()
            segment["status"] = status
            if status == Status.failed:
                segment["error"] = self._last_error_line(trial_id)

    def _last_error_line(self, trial_id: int) -> str:
        """The last non-empty line the trial wrote to stderr (the exception, usually)."""
        try:
            lines = self.tuner.trial_backend.stderr(trial_id)
        except OSError:
            return "no stderr"
        lines = [line.strip() for line in lines if line.strip()]
        return lines[-1][:500] if lines else "exited with an error, stderr empty"

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
            update_metadata(self.tuner.tuner_path, trial_timeline=self.segments)


class QuietLogger(TunerLogger):
    """Says nothing: simulated runs start hundreds of trials a second."""

    def __getattribute__(self, name):
        if name.startswith("print_"):
            return lambda *args, **kwargs: None
        return super().__getattribute__(name)


class ProgressPrinter(TunerCallback):
    """One line per trial that is stopped, paused or improves on the best, so that a long run
    shows its progress."""

    def __init__(self, metric: str, resource_attr: str, max_t: int, scheduler_name: str):
        self.metric = metric
        self.resource_attr = resource_attr
        self.max_t = max_t
        self.scheduler_name = scheduler_name
        self.best = math.inf
        self.start = None
        self.stopped = 0

    def on_tuning_start(self, tuner):
        self.start = tuner.tuning_status.start_time

    def _say(self, text: str):
        print(f"[{time.perf_counter() - self.start:7.1f}s] {text}", flush=True)

    def on_trial_result(self, trial, status, result, decision):
        value = result.get(self.metric)
        level = result.get(self.resource_attr)
        if value is not None and value < self.best:
            self.best = value
            self._say(f"trial {trial.trial_id} epoch {level}: new best {self.metric} {value:.4f}")
        if decision == SchedulerDecision.PAUSE:
            self._say(f"trial {trial.trial_id} paused at {self.resource_attr} {level} "
                      f"({self.metric} {value:.4f}): its rung decides when complete")
        if decision == SchedulerDecision.STOP and level is not None and level < self.max_t:
            self.stopped += 1
            self._say(
                f"trial {trial.trial_id} stopped by {self.scheduler_name} at {self.resource_attr} "
                f"{level} ({self.metric} {value:.4f}); {self.stopped} stopped early so far, "
                f"best {self.best:.4f}"
            )
