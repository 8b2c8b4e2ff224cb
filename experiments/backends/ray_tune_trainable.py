"""What a Ray Tune trial runs (experiments/tuning/ray_tune.py): the suite's objective, reporting
through Ray Tune. Kept apart from the tuner's module so that a Ray worker imports only this."""

from __future__ import annotations

from dataclasses import dataclass

from objectives.trial import TrialSettings


@dataclass(frozen=True)
class RayTuneTrialFiles:
    """Where a Ray Tune trial finds its data and writes its checkpoints. The suite's other
    backends give their trials a folder and copy the data themselves; under Ray Tune the trial
    does both, so it is told where."""

    experiment_dir: str
    checkpoint_root: str | None  # a folder every node shares, or None: the experiment folder
    data_file: str | None  # the data set's file, which this node may lack; None: nothing to copy
    data_box: list  # what ship_data returned: the file's copy in Ray's object store, or nothing
    code_box: list  # what ship_code returned: the folders of Syne Tune code given by path, or nothing


def trial_number(ray_trial_id: str) -> int:
    """Ray Tune numbers trials PREFIX_00000, PREFIX_00001, ... in the order it creates them;
    the number is the trial's id in the suite's layout."""
    return int(ray_trial_id.rsplit("_", 1)[1])


def train_trial(config: dict, settings: TrialSettings, files: RayTuneTrialFiles) -> None:
    """Ray Tune's trainable: one trial of the suite's objective, reporting every epoch."""
    import ray
    from ray import tune

    from analysis.experiment_folder import checkpoint_folder
    from experiments.backends.ray_tasks import ensure_code_folders, ensure_data_file
    from objectives.trial import run_trial

    trial_id = trial_number(tune.get_context().get_trial_id())
    node_id = ray.get_runtime_context().get_node_id()
    if files.data_file is not None:
        ensure_data_file(files.data_file, files.data_box)
    ensure_code_folders(files.code_box)

    def report(**metrics):
        tune.report({**metrics, "node_id": node_id})

    checkpoint_dir = checkpoint_folder(files.experiment_dir, trial_id, files.checkpoint_root)
    run_trial(config, str(checkpoint_dir), report, settings)
