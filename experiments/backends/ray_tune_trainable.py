"""What a Ray Tune trial runs (experiments/tuning/ray_tune.py): the suite's objective, reporting
through Ray Tune. Kept apart from the tuner's module so that a Ray worker imports only this."""

from __future__ import annotations


def trial_number(ray_trial_id: str) -> int:
    """Ray Tune numbers trials PREFIX_00000, PREFIX_00001, ... in the order it creates them;
    the number is the trial's id in the suite's layout."""
    return int(ray_trial_id.rsplit("_", 1)[1])


def train_trial(config: dict, settings: dict) -> None:
    """Ray Tune's trainable: one trial of the suite's objective, reporting every epoch."""
    import ray
    from ray import tune

    from analysis.experiment_folder import checkpoint_folder
    from experiments.backends.ray_tasks import ensure_data_file
    from objectives.trial import TrialSettings, run_trial

    trial_id = trial_number(tune.get_context().get_trial_id())
    node_id = ray.get_runtime_context().get_node_id()
    if settings["data_file"] is not None:
        ensure_data_file(settings["data_file"], settings["data_box"])

    def report(**metrics):
        tune.report({**metrics, "node_id": node_id})

    checkpoint_dir = checkpoint_folder(settings["experiment_dir"], trial_id, settings["checkpoint_root"])
    run_trial(config, str(checkpoint_dir), report, TrialSettings(
        objective=settings["objective"], data=settings["data"], max_resource=settings["max_resource"],
        threads=settings["threads"], seed=settings["seed"]))
