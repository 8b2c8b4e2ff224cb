"""Syne Tune's `PythonBackend`: every trial (and every resumed trial) a new Python process.

Only two things are added: the trial settings travel in the environment (see
`objectives.trial`), and trials are placed on the GPU running the fewest trials, so that
several trials can share each GPU.
"""

from __future__ import annotations

import os
from typing import Any

from syne_tune.backend import PythonBackend

from experiments.compat.syne_tune import ProcessHooks
from objectives.trial import TRIAL_SETTINGS_ENV, TrialSettings


class NewProcessBackend(ProcessHooks, PythonBackend):
    def __init__(self, tune_function, config_space: dict[str, Any], settings: TrialSettings,
                 rotate_gpus: bool):
        super().__init__(tune_function, config_space, rotate_gpus=rotate_gpus)
        self.settings = settings

    def launch_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        # LocalBackend hands each new process a copy of this process's environment
        os.environ[TRIAL_SETTINGS_ENV] = self.settings.to_env()
        super().launch_trial(trial_id, config)
