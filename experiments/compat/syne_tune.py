"""Syne Tune 0.16 internals the suite builds on, behind public-named hooks.

Why the public API does not do, for each:
- `Tuner._schedule_new_tasks`: the first `suggest()` returning None ends all scheduling (the
  tuner takes the search space as exhausted). A synchronous scheduler must be able to say
  "nothing to start *yet*": `SchedulingTuner` lets it raise `NothingToStartYet` instead, and
  leaves the free worker idle until the next poll. It calls `_schedule_new_task` and `_sleep`
  as the original does.
- `LocalBackend._schedule`, `_kill_process`, `_all_trial_results`, `_prepare_for_schedule`,
  `_allocate_gpu`, `_gpus_for_new_trial`, `_busy_trial_id_candidates`: LocalBackend starts
  every trial as `subprocess.Popen` and has no public hook for starting or ending a trial
  another way (a fork of a warm process, a Ray task). `ProcessHooks` maps them to
  `launch_trial`, `end_trial_process` and `before_reading_results`, and places trials on the
  GPU running the fewest trials (LocalBackend sends every trial beyond one per GPU to the same
  GPU, which breaks several trials per GPU).
  A trial whose process ends with exit code 0 without having reported a result (an objective
  that never calls `report`; a trial resumed with nothing left to train, its checkpoint saved
  just before an interruption took its report) counts as completed there, and Syne Tune's
  tuner then raises and ends the whole run: `ProcessHooks._all_trial_results` records such a
  trial as failed, with the reason in its stderr, so that the run goes on. It also skips a
  trial whose start a Ctrl-C cut short (in `trial_ids`, not yet in `_trial_dict`).
- `SimulatorCallback._tuner`, `._time_keeper`, `._tuner_sleep_time`, and
  `SimulatorBackend._simulator_state`: the simulated tuner polls its trials every 0.2
  simulated seconds, as the real one does, and most polls find nothing; `FastForward` jumps
  over the polls before the next simulated event, with the same results.
- `SimulatorCallback._modify_stop_criterion`: the simulator rebuilds the tuner's
  `StoppingCriterion` on simulated time and drops its `min_metric_value` and
  `max_metric_value`, so a run told to stop at a target ran to the end of its budget;
  `FastForward` puts them back.
- `SimulatorBackend._time_keeper`: the simulator advances its clock by the real time spent
  outside the backend (the scheduler's computing, the machine's load), so simulated runs
  differ from one machine state to the next; `deterministic_clock` charges none of it.
- `TrialBackend._trial_dict`: resuming an interrupted synchronous SH run must make a trial that
  was killed at the interruption resumable again; the backend's Trial objects are reachable
  only there.
- `TrialBackend._last_metric_seen_index`: how many of a trial's reports the tuner has taken.
  The tuner saved in an experiment can be older than its results file (a report fetched at the
  interruption, after the last save); on resume it would take that report again, and the
  results would hold it twice. `count_results_seen` brings it up to date.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from syne_tune import StoppingCriterion, Tuner
from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
from syne_tune.backend.trial_status import Status, Trial
from syne_tune.util import name_from_base

PRIVATE_NAMES = [
    ("syne_tune.Tuner", "_schedule_new_tasks", "(self, running_trials_ids: set[int])"),
    ("syne_tune.Tuner", "_schedule_new_task", "(self) -> syne_tune.backend.trial_status.TrialResult | None"),
    ("syne_tune.Tuner", "_sleep", "(self)"),
    ("syne_tune.backend.LocalBackend", "_schedule", "(self, trial_id: int, config: dict[str, typing.Any])"),
    ("syne_tune.backend.LocalBackend", "_kill_process", "(self, trial_id: int)"),
    ("syne_tune.backend.LocalBackend", "_all_trial_results",
     "(self, trial_ids: list[int]) -> list[syne_tune.backend.trial_status.TrialResult]"),
    ("syne_tune.backend.LocalBackend", "_prepare_for_schedule", "(self, num_gpus=None)"),
    ("syne_tune.backend.LocalBackend", "_allocate_gpu", "(self, trial_id: int, env: dict[str, typing.Any])"),
    ("syne_tune.backend.LocalBackend", "_gpus_for_new_trial", "(self) -> list[int]"),
    ("syne_tune.backend.LocalBackend", "_busy_trial_id_candidates", "attribute: set"),
    ("syne_tune.backend.trial_backend.TrialBackend", "_trial_dict", "attribute: dict"),
    ("syne_tune.backend.trial_backend.TrialBackend", "_last_metric_seen_index", "attribute: defaultdict"),
    ("syne_tune.backend.simulator_backend.simulator_backend.SimulatorBackend", "_time_keeper",
     "attribute: SimulatedTimeKeeper"),
    ("syne_tune.backend.simulator_backend.simulator_backend.SimulatorBackend", "_simulator_state",
     "attribute: SimulatorState"),
    ("syne_tune.backend.simulator_backend.simulator_callback.SimulatorCallback", "_modify_stop_criterion",
     "(self, tuner: 'Tuner')"),
    ("syne_tune.backend.simulator_backend.simulator_callback.SimulatorCallback", "_tuner", "attribute"),
    ("syne_tune.backend.simulator_backend.simulator_callback.SimulatorCallback", "_time_keeper", "attribute"),
    ("syne_tune.backend.simulator_backend.simulator_callback.SimulatorCallback", "_tuner_sleep_time",
     "attribute"),
]


class NothingToStartYet(Exception):
    """Raised by a scheduler's `suggest()`: no trial can start until a running trial reports."""


class SchedulingTuner(Tuner):
    """Syne Tune's `Tuner`, taught that a scheduler may have nothing to start yet.

    Schedulers that never raise `NothingToStartYet` (ASHA, random search) behave exactly as
    under the stock tuner, so every method runs under the same tuner. Overrides the default
    settings' path (`asynchronous_scheduling=True`, `start_jobs_without_delay=True`).
    """

    def __init__(self, *, results_dir: Path, tuner_name: str, suffix_tuner_name: bool = True, **kwargs):
        """As Syne Tune's `Tuner`, writing the experiment into `results_dir` (Syne Tune takes
        the folder from $SYNETUNE_FOLDER: given here, no process environment is changed)."""
        name = name_from_base(tuner_name) if suffix_tuner_name else tuner_name
        super().__init__(tuner_name=name, suffix_tuner_name=False,
                         trial_backend_path=str(Path(results_dir) / name), **kwargs)
        self.tuner_path = Path(results_dir) / name

    @staticmethod
    def load_from(experiment_dir: Path) -> "SchedulingTuner":
        """The tuner pickled in `experiment_dir`, writing there: also where the experiment was
        moved after it was written (the pickled backend holds the folder it was written in)."""
        tuner = Tuner.load(str(experiment_dir))
        tuner.tuner_path = Path(experiment_dir)
        # what LocalBackend.set_path sets, without PythonBackend's warning that the folder exists
        tuner.trial_backend.local_path = Path(experiment_dir)
        return tuner

    def _schedule_new_tasks(self, running_trials_ids: set[int]):
        started = 0
        for _ in range(self.n_workers - len(running_trials_ids)):
            try:
                trial = self._schedule_new_task()
            except NothingToStartYet:
                break
            running_trials_ids.add(trial.trial_id)
            self.tuning_status.update(
                trial_status_dict={trial.trial_id: (trial, Status.in_progress)}, new_results=[]
            )
            started += 1
        if started == 0:
            self._sleep()

    def _sleep(self):
        # as the stock one, without time.sleep(0) when the simulator sets the sleep to 0: that
        # call yields the processor on every loop, a second per simulated run on a busy machine
        if self.sleep_time > 0:
            time.sleep(self.sleep_time)
        for callback in self.callbacks:
            callback.on_tuning_sleep(self.sleep_time)


# The failure reason of a trial whose process ended well without reporting anything.
NO_RESULT = "the trial ended (exit code 0) without reporting a result"


class ProcessHooks:
    """Mixed into a `LocalBackend` subclass (before it): start and end trials your way.

    Subclasses implement `launch_trial(trial_id, config)` (start the trial; register a handle
    with `poll()` and `kill()` in `self.trial_subprocess[trial_id]`) and may override
    `end_trial_process(trial_id)`, `before_reading_results()` and `settings_env()` (variables a
    trial's process gets beside the launcher's environment, which stays unchanged).
    `trial_env(trial_id)` gives those plus the one that pins a trial to its GPU. Without
    `launch_trial`, trials start as LocalBackend starts them (a new process), with that
    environment and the GPU placement below.
    """

    def launch_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        super()._schedule(trial_id, config)

    def end_trial_process(self, trial_id: int) -> None:
        super()._kill_process(trial_id)

    def before_reading_results(self) -> None:
        pass

    def settings_env(self) -> dict[str, str]:
        return {}

    def trial_env(self, trial_id: int) -> dict[str, str]:
        env: dict[str, str] = {}
        self._prepare_for_schedule()
        self._allocate_gpu(trial_id, env)
        return env

    # -- the overrides ----------------------------------------------------------------------

    def _schedule(self, trial_id: int, config: dict[str, Any]):
        # A trial killed between a report and its newline (paused, or ended with the tuning)
        # leaves a line open; a resumed run appends to the same file, and two reports on one
        # line make Syne Tune's reader raise (and end the run).
        finish_last_line(self.trial_path(trial_id) / "std.out")
        self.launch_trial(trial_id, config)
        self._busy_trial_id_candidates.add(trial_id)  # LocalBackend polls only these
        if getattr(self, "trial_gpu", None):  # rotated over GPUs: LocalBackend's public record
            # trial_id -> the GPUs its latest run was given
            self.__dict__.setdefault("gpu_of_trial", {})[trial_id] = list(self.trial_gpu.get(trial_id, []))

    def _kill_process(self, trial_id: int):
        self.end_trial_process(trial_id)

    def _allocate_gpu(self, trial_id: int, env: dict[str, Any]):
        # LocalBackend fills a new trial's environment here (a copy of the launcher's)
        super()._allocate_gpu(trial_id, env)
        env.update(self.settings_env())

    def _all_trial_results(self, trial_ids: list[int]):
        self.before_reading_results()
        # A Ctrl-C while a trial starts leaves its id in `trial_ids` but not yet in `_trial_dict`
        # (TrialBackend.start_trial registers it there last); the tuner's clean-up then reads
        # every id, which raised KeyError instead of exiting 130. Such a trial has no results.
        results = super()._all_trial_results([t for t in trial_ids if t in self._trial_dict])
        for result in results:  # each with every report in its stdout so far
            if result.status == Status.completed and not result.metrics:
                stderr = self.trial_path(result.trial_id) / "std.err"
                if not stderr.read_text().rstrip().endswith(NO_RESULT):  # once, however often polled
                    with stderr.open("a") as f:
                        f.write(f"\n{NO_RESULT}\n")
                result.status = Status.failed
        return results

    def _gpus_for_new_trial(self) -> list[int]:
        """The GPU running the fewest trials now (ties: the one used least so far)."""
        running = [gpu for gpus in self.trial_gpu.values() for gpu in gpus]
        gpu = min(range(self.num_gpus),
                  key=lambda g: (running.count(g), self.gpu_times_assigned[g], g))
        self.gpu_times_assigned[gpu] += 1
        return [gpu]


def finish_last_line(path: Path) -> None:
    """End the file with a newline if text follows its last one (nothing if there is no file)."""
    try:
        with open(path, "rb+") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
    except FileNotFoundError:
        pass


def trial_of(backend, trial_id: int) -> Trial:
    """The backend's Trial object (its status decides whether it can be resumed)."""
    return backend._trial_dict[trial_id]


def count_results_seen(backend, trial_id: int, count: int) -> None:
    """Let the backend know that the tuner has taken the trial's first `count` reports."""
    seen = backend._last_metric_seen_index
    seen[trial_id] = max(seen[trial_id], count)


def make_resumable(backend, trial_id: int) -> None:
    """Let a trial killed by an interruption be resumed like a paused one."""
    backend._trial_dict[trial_id].status = Status.paused


def deterministic_clock(backend) -> None:
    """Let a simulator backend's clock advance only by simulated events and the tuner's
    simulated sleeps, not by the real time the scheduler and tuner took between calls."""
    from syne_tune.backend.simulator_backend.time_keeper import SimulatedTimeKeeper

    class EventClock(SimulatedTimeKeeper):
        def real_time_since_last_recent_exit(self) -> float:
            return 0.0

    backend._time_keeper = EventClock()


class FastForward(SimulatorCallback):
    """Syne Tune's simulator callback, jumping over idle polls.

    While every worker is busy (or a synchronous scheduler waits), each 0.2 s poll of the
    simulated tuner finds nothing until the next simulated event. Here one sleep advances the
    clock by as many poll steps as lie before that event, added one by one as the stock
    callback would, so every poll that finds something happens at the same simulated time:
    the results are those of polling every step, in a fraction of the tuner loops. Only when
    no event was handled since the tuner's last fetch (stopping or pausing a trial moves the
    clock and handles events whose results the next poll must fetch).
    """

    skip_idle_polls = True  # False: poll every step, as the stock callback (to compare)

    def _modify_stop_criterion(self, tuner: Tuner):
        original = tuner.stop_criterion
        super()._modify_stop_criterion(tuner)
        if tuner.stop_criterion is not original and isinstance(original, StoppingCriterion):
            # the rebuilt criterion stops at the simulated budget through max_metric_value
            # on ST_TUNER_TIME; the run's own thresholds join it
            tuner.stop_criterion.min_metric_value = original.min_metric_value
            tuner.stop_criterion.max_metric_value = {**(original.max_metric_value or {}),
                                                     **tuner.stop_criterion.max_metric_value}

    def on_fetch_status_results(self, trial_status_dict, new_results):
        super().on_fetch_status_results(trial_status_dict, new_results)
        state = self._tuner.trial_backend._simulator_state
        self._after_fetch = (len(state.event_heap), state.events_added)

    def _handled_since_fetch(self) -> bool:
        state = self._tuner.trial_backend._simulator_state
        length, added = getattr(self, "_after_fetch", (0, 0))
        return length + (state.events_added - added) > len(state.event_heap)

    def on_tuning_sleep(self, sleep_time: float):
        step = self._tuner_sleep_time
        heap = self._tuner.trial_backend._simulator_state.event_heap
        polls = 1
        if self.skip_idle_polls and heap and step > 0 and not self._handled_since_fetch():
            polls = max(1, math.ceil((heap[0][0] - self._time_keeper.time()) / step))
        for _ in range(polls):
            self._time_keeper.advance(step)
