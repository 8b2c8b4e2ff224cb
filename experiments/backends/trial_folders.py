"""What the suite's own trial backends (warm, Ray) share: LocalBackend's trial folders, so that
results, stop, pause and resume work as in Syne Tune; they differ only in how a trial's
process is started and ended."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from syne_tune.constants import ST_CHECKPOINT_DIR
from syne_tune.util import dump_json_with_numpy


def prepare_trial_folder(backend, trial_id: int, config: dict[str, Any]) -> tuple[Path, dict]:
    """Create the trial's folder as `LocalBackend` does; return it and the keyword arguments
    for the tuned function (the configuration plus the trial's checkpoint folder)."""
    trial_path = backend.trial_path(trial_id)
    os.makedirs(trial_path, exist_ok=True)
    for name in ("std.out", "std.err"):  # polled before the trial writes to them
        (trial_path / name).touch()
    dump_json_with_numpy(config, str(trial_path / "config.json"))
    kwargs = {key: config[key] for key in backend.config_space if key in config}
    kwargs[ST_CHECKPOINT_DIR] = str(backend.checkpoint_trial_path(trial_id))
    return trial_path, kwargs


class EndedTrial:
    """Stands in for a trial process in a saved tuner: it has ended."""

    def __init__(self, code: int | None):
        self.code = -9 if code is None else code  # running when saved: killed since
        self.pid = -1

    def poll(self) -> int:
        return self.code

    def kill(self) -> None:
        pass


def without_live_trials(backend) -> dict:
    """The backend's state for pickling: the tuner saves its backend regularly, and live
    processes or Ray handles cannot be pickled (they are gone by the time a saved tuner is
    loaded again)."""
    state = dict(backend.__dict__)
    state["trial_subprocess"] = {
        trial_id: EndedTrial(handle.poll()) for trial_id, handle in backend.trial_subprocess.items()
    }
    return state
