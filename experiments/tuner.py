"""Syne Tune's `Tuner`, taught that a scheduler may have nothing to start *yet*.

In syne-tune 0.16 the first `suggest()` that returns None makes the tuner treat the search
space as exhausted: it never asks again and ends once the running trials finish. A
synchronous scheduler must be able to say "wait until a running trial reports" instead.
Here it does so by raising `NothingToStartYet` from `suggest()`; the tuner then leaves the free
worker idle until its next poll. Schedulers that never raise it (ASHA, random search) behave
exactly as under the stock tuner, so every method runs under the same tuner.

Overrides `Tuner._schedule_new_tasks` (0.16.0, pinned in setup.cfg) for the default settings
the suite uses: `asynchronous_scheduling=True`, `start_jobs_without_delay=True`.
"""

from __future__ import annotations

from syne_tune import Tuner
from syne_tune.backend.trial_status import Status


class NothingToStartYet(Exception):
    """Raised by `suggest()`: no trial can start until a running trial reports."""


class WaitingTuner(Tuner):
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
