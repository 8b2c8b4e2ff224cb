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
- `TrialBackend._trial_dict`: resuming an interrupted synchronous SH run must make a trial that
  was killed at the interruption resumable again; the backend's Trial objects are reachable
  only there.
"""

from __future__ import annotations

from typing import Any

from syne_tune import Tuner
from syne_tune.backend.trial_status import Status, Trial

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
]


class NothingToStartYet(Exception):
    """Raised by a scheduler's `suggest()`: no trial can start until a running trial reports."""


class SchedulingTuner(Tuner):
    """Syne Tune's `Tuner`, taught that a scheduler may have nothing to start yet.

    Schedulers that never raise `NothingToStartYet` (ASHA, random search) behave exactly as
    under the stock tuner, so every method runs under the same tuner. Overrides the default
    settings' path (`asynchronous_scheduling=True`, `start_jobs_without_delay=True`).
    """

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


class ProcessHooks:
    """Mixed into a `LocalBackend` subclass (before it): start and end trials your way.

    Subclasses implement `launch_trial(trial_id, config)` (start the trial; register a handle
    with `poll()` and `kill()` in `self.trial_subprocess[trial_id]`) and may override
    `end_trial_process(trial_id)` and `before_reading_results()`. `gpu_env(trial_id)` gives
    the environment that pins a trial to its GPU. Without `launch_trial`, trials start as
    LocalBackend starts them (a new process), with the GPU placement below.
    """

    def launch_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        super()._schedule(trial_id, config)

    def end_trial_process(self, trial_id: int) -> None:
        super()._kill_process(trial_id)

    def before_reading_results(self) -> None:
        pass

    def gpu_env(self, trial_id: int) -> dict[str, str]:
        env: dict[str, str] = {}
        self._prepare_for_schedule()
        self._allocate_gpu(trial_id, env)
        return env

    # -- the overrides ----------------------------------------------------------------------

    def _schedule(self, trial_id: int, config: dict[str, Any]):
        self.launch_trial(trial_id, config)
        self._busy_trial_id_candidates.add(trial_id)  # LocalBackend polls only these

    def _kill_process(self, trial_id: int):
        self.end_trial_process(trial_id)

    def _all_trial_results(self, trial_ids: list[int]):
        self.before_reading_results()
        return super()._all_trial_results(trial_ids)

    def _gpus_for_new_trial(self) -> list[int]:
        """The GPU running the fewest trials now (ties: the one used least so far)."""
        running = [gpu for gpus in self.trial_gpu.values() for gpu in gpus]
        gpu = min(range(self.num_gpus),
                  key=lambda g: (running.count(g), self.gpu_times_assigned[g], g))
        self.gpu_times_assigned[gpu] += 1
        return [gpu]


def trial_of(backend, trial_id: int) -> Trial:
    """The backend's Trial object (its status decides whether it can be resumed)."""
    return backend._trial_dict[trial_id]


def make_resumable(backend, trial_id: int) -> None:
    """Let a trial killed by an interruption be resumed like a paused one."""
    backend._trial_dict[trial_id].status = Status.paused
