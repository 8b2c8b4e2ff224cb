"""Replay a recorded objective in simulated time with Syne Tune's simulator.

The table written by `experiments/record_curves.py` (per configuration and epoch: validation
error and elapsed training time) becomes a `BlackboxTabular`; `UserBlackboxBackend` then
answers trials from it and advances a simulated clock by the recorded epoch times, plus a
start-up cost per trial. The schedulers are the same objects as in real runs; they search over
the recorded configurations (`config_id`), since the table knows nothing else.
"""

from __future__ import annotations

import numpy as np

from experiments.record_curves import load_table, table_path

ELAPSED_ATTR = "elapsed_s"
OBJECTIVE_COLUMNS = ["validation_error", ELAPSED_ATTR]


class NoTable(Exception):
    """No recorded table for the objective; the message says how to record one."""


def recorded_table(objective: str):
    """(frame, metadata) of the objective's table, complete configurations only."""
    path = table_path(objective)
    frame, metadata = load_table(path)
    if frame.empty:
        raise NoTable(
            f"no recorded learning curves for {objective} at {path}: record them with "
            f"`python experiments/record_curves.py --objective {objective}`"
        )
    max_epochs = int(metadata.get("max_epochs", frame["epoch"].max()))
    complete = frame.groupby("config_id")["epoch"].nunique()
    frame = frame[frame["config_id"].isin(complete[complete == max_epochs].index)]
    return frame.sort_values(["config_id", "epoch"]), {**metadata, "max_epochs": max_epochs}


def config_space(frame, max_epochs: int) -> dict:
    from syne_tune.config_space import choice

    return {"config_id": choice(sorted(int(c) for c in frame["config_id"].unique())),
            "max_epochs": max_epochs}


def make_blackbox(frame, max_epochs: int):
    """BlackboxTabular over the recorded configurations (one seed: one recording each)."""
    import pandas as pd
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import randint

    class RecordedCurves(BlackboxTabular):
        # BlackboxTabular looks configurations up through a pandas index, which fails for a
        # single hyperparameter column; config_id is the position, so look it up directly.
        def _objective_function(self, configuration, fidelity=None, seed=None):
            if isinstance(configuration, dict):
                configuration = positions[int(configuration["config_id"])]
            return super()._objective_function(configuration, fidelity, seed)

    ids = sorted(int(c) for c in frame["config_id"].unique())
    positions = {config_id: position for position, config_id in enumerate(ids)}
    evaluations = np.stack([
        frame[frame["config_id"] == c][OBJECTIVE_COLUMNS].to_numpy(dtype=float) for c in ids
    ])[:, None, :, :]  # (configs, seeds, epochs, objectives)
    return RecordedCurves(
        hyperparameters=pd.DataFrame({"config_id": ids}),
        configuration_space={"config_id": config_space(frame, max_epochs)["config_id"]},
        fidelity_space={"epoch": randint(1, max_epochs)},
        objectives_evaluations=evaluations,
        fidelity_values=np.arange(1, max_epochs + 1),
        objectives_names=OBJECTIVE_COLUMNS,
    )


def make_backend(frame, max_epochs: int, startup_s: float):
    from syne_tune.backend.simulator_backend.simulator_backend import SimulatorConfig
    from syne_tune.blackbox_repository import UserBlackboxBackend

    return UserBlackboxBackend(
        blackbox=make_blackbox(frame, max_epochs),
        elapsed_time_attr=ELAPSED_ATTR,
        max_resource_attr="max_epochs",
        seed=0,
        simulator_config=SimulatorConfig(delay_start=startup_s),
    )


