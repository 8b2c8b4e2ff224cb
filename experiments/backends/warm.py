"""A `PythonBackend` whose trials start in milliseconds: forked from a warm process.

`PythonBackend` starts every trial (and every resumed trial) as a new Python process, which
imports torch and loads the data set again: about 3-4 s before the first training step on this
suite's objectives. Here a multiprocessing *forkserver* imports torch and the objective once
and holds the decoded data set in memory; each trial is a fork of it, so it starts with
everything loaded. Trials are still separate processes (a crash, a kill or a hang affects only
that trial), and everything else is `LocalBackend`'s: the same per-trial folders (`std.out`,
`std.err`, `config.json`, `checkpoints/`), the same results, stop, pause and resume.

The tuned function must be importable by module and name (as `objectives.trial.trial_entry_point`
is), since the forked process imports it instead of unpickling its code.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import sys
from typing import Any, Callable

from syne_tune.backend import PythonBackend

from experiments.backends.trial_folders import EndedTrial, prepare_trial_folder, without_live_trials
from experiments.compat.syne_tune import ProcessHooks
from objectives.processes import die_with_parent
from objectives.trial import TRIAL_SETTINGS_ENV, TrialSettings

# Imported once by the forkserver, so that forked trials find them loaded (this module too: a
# forked trial imports it to run `run_forked_trial`).
PRELOAD_MODULES = ["experiments.backends.warm_preload", __name__]
PRELOAD_ENV = "HPO_WARM_PRELOAD"  # JSON {"objective", "data"} read by warm_preload


class ForkedTrial:
    """The part of `subprocess.Popen`'s interface that `LocalBackend` uses."""

    def __init__(self, process):
        self.process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        return None if self.process.is_alive() else self.process.exitcode

    def kill(self) -> None:
        self.process.kill()


def do_nothing() -> None:
    """A first forked process: it returns once the forkserver has finished preloading."""


def run_forked_trial(function: str, kwargs: dict, stdout: str, stderr: str, env: dict) -> None:
    """Body of a trial process: redirect output to the trial's files, then run the function."""
    die_with_parent()
    for fd, path in ((1, stdout), (2, stderr)):
        with open(path, "a") as f:
            os.dup2(f.fileno(), fd)
    os.environ.update(env)
    module, name = function.rsplit(":", 1)
    getattr(importlib.import_module(module), name)(**kwargs)
    sys.stdout.flush()


@contextlib.contextmanager
def preload_request(objective: str | None, data: str | None):
    """What the forkserver preloads (`objective` as `load_objective` takes it; None: nothing),
    in the environment only while it starts: the forkserver reads its environment once, at the
    first process of this launcher, and nothing else of the launcher should see the variable."""
    before = os.environ.get(PRELOAD_ENV)
    if objective is not None:
        os.environ[PRELOAD_ENV] = json.dumps({"objective": objective, "data": data})
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PRELOAD_ENV, None)
        else:
            os.environ[PRELOAD_ENV] = before


class WarmBackend(ProcessHooks, PythonBackend):
    """Drop-in for `PythonBackend(tune_function, config_space, rotate_gpus=...)`; `settings`
    (for the suite's objectives) reach every trial through its environment, and the forkserver
    loads the objective's data once (`Objective.preload`)."""

    def __init__(self, tune_function: Callable, config_space: dict[str, Any],
                 settings: TrialSettings | None = None, rotate_gpus: bool = True):
        super().__init__(tune_function, config_space, rotate_gpus=rotate_gpus)
        self.function_path = f"{tune_function.__module__}:{tune_function.__qualname__}"
        self.settings = settings
        # Start the warm process now and wait until it has loaded everything (a few seconds),
        # so that the wait is not inside the tuner's timed loop.
        warm_up = self._context().Process(target=do_nothing)
        with self.preloading():
            warm_up.start()
        warm_up.join()

    def preloading(self):
        """While a process starts: the forkserver starts with it where none runs (the first
        process of this launcher, also the first trial of a resumed run) and preloads."""
        settings = self.settings
        return preload_request(settings and settings.objective, settings and settings.data)

    def _context(self):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD_MODULES)
        return context

    def settings_env(self) -> dict[str, str]:
        return {} if self.settings is None else {TRIAL_SETTINGS_ENV: self.settings.to_env()}

    def launch_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        trial_path, kwargs = prepare_trial_folder(self, trial_id, config)
        env = self.trial_env(trial_id)
        process = self._context().Process(
            target=run_forked_trial,
            args=(self.function_path, kwargs, str(trial_path / "std.out"),
                  str(trial_path / "std.err"), env),
            daemon=False,
        )
        # Until the fork is done the trial counts as one that ended without running: a Ctrl-C
        # meanwhile leaves the backend consistent (the half-started process dies with the
        # forkserver, see die_with_parent).
        self.trial_subprocess[trial_id] = EndedTrial(None)
        with self.preloading():
            process.start()
        self.trial_subprocess[trial_id] = ForkedTrial(process)

    def end_trial_process(self, trial_id: int) -> None:
        if not isinstance(self.trial_subprocess[trial_id], EndedTrial):
            super().end_trial_process(trial_id)

    def __getstate__(self):
        return without_live_trials(self)
