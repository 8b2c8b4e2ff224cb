"""Syne Tune's `PythonBackend`: every trial (and every resumed trial) a new Python process.

Only two things are added: the trial settings travel in each trial's environment (see
`objectives.trial`), and trials are placed on the GPU running the fewest trials, so that
several trials can share each GPU.
"""

from __future__ import annotations

from typing import Any

from syne_tune.backend import PythonBackend

from experiments.compat.syne_tune import ProcessHooks
from objectives.trial import TRIAL_SETTINGS_ENV, TrialSettings


class NewProcessBackend(ProcessHooks, PythonBackend):
    def __init__(self, tune_function, config_space: dict[str, Any], settings: TrialSettings,
                 rotate_gpus: bool):
        super().__init__(tune_function, config_space, rotate_gpus=rotate_gpus)
        self.settings = settings

    def settings_env(self) -> dict[str, str]:
        return {TRIAL_SETTINGS_ENV: self.settings.to_env()}
