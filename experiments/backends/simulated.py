"""Replay a recorded objective in simulated time with Syne Tune's simulator.

The table written by `experiments/record_curves.py` (per configuration and epoch: validation
error and elapsed training time) answers the trials through `UserBlackboxBackend`, which
advances a simulated clock by the recorded epoch times, plus a start-up cost per trial, and
polls as the real tuner does (every 0.2 s). The schedulers are the same objects as in real
runs. Two ways to serve configurations:
- `surrogate` (default): the schedulers search the objective's real space (learning rate,
  batch size, ...), as model-based searchers need; a configuration is served by a surrogate
  fitted to the table (experiments/backends/surrogate.py);
- `recorded` (`--search-space recorded`): only the recorded configurations, by id, each its
  exact recording: what the fidelity check against real runs compares.
Simulated time does not include the scheduler's own computing time (see
compat.syne_tune.deterministic_clock), so a run is the same whatever the machine's load.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from experiments.compat.syne_tune_blackbox import SingleColumnTabular
from objectives.tables import ELAPSED, LEVEL, complete_curves, load_table, table_names, table_path
from objectives.trial import RESOURCE_BOUND
from objectives.usage import UsageError


class NoTable(UsageError):
    """No recorded table for the objective; the message says how to record one."""


def recorded_table(objective: str) -> tuple[pd.DataFrame, dict]:
    """(frame, metadata) of the objective's table, complete configurations only."""
    path = table_path(objective)
    frame, metadata = load_table(path)
    if frame.empty:
        from objectives import BUILTIN_OBJECTIVES

        how = (f"--objective {objective}" if objective in BUILTIN_OBJECTIVES
               else "and the objective flags given here (--objective, or --entry-point and the rest)")
        raise NoTable(f"no recorded learning curves for {objective} at {path}: record them with "
                      f"`python experiments/record_curves.py {how}`")
    max_epochs = int(metadata.get("max_epochs", frame["epoch"].max()))
    return complete_curves(frame, max_epochs), {**metadata, "max_epochs": max_epochs}


def recorded_search_space(frame: pd.DataFrame) -> dict:
    """The recorded configurations, by id: the only search space a table can answer exactly."""
    from syne_tune.config_space import choice

    return {"config_id": choice(sorted(int(c) for c in frame["config_id"].unique()))}


def make_blackbox(frame: pd.DataFrame, max_epochs: int, metric: str = "validation_error",
                  resource_attr: str = "epoch") -> SingleColumnTabular:
    """A tabular blackbox over the recorded configurations (one seed: one recording each),
    answering `metric` and the elapsed time at each level of `resource_attr`."""
    from syne_tune.config_space import randint

    ids = sorted(int(c) for c in frame["config_id"].unique())
    objectives = [metric, ELAPSED]
    evaluations = np.stack([
        frame[frame["config_id"] == c].sort_values(LEVEL)[objectives].to_numpy(dtype=float) for c in ids
    ])[:, None, :, :]  # (configs, seeds, levels, objectives)
    return SingleColumnTabular(
        hyperparameters=pd.DataFrame({"config_id": ids}),
        configuration_space=recorded_search_space(frame),
        fidelity_space={resource_attr: randint(1, max_epochs)},
        objectives_evaluations=evaluations,
        fidelity_values=np.arange(1, max_epochs + 1),
        objectives_names=objectives,
        rows={config_id: row for row, config_id in enumerate(ids)},
    )


def make_backend(blackbox, startup_s: float, poll_s: float):
    """The simulator over `blackbox`; `seed=0`: with None, every trial start draws from numpy's
    global generator, shifting the schedulers' own draws from it."""
    from syne_tune.backend.simulator_backend.simulator_backend import SimulatorConfig
    from syne_tune.blackbox_repository import UserBlackboxBackend

    from experiments.compat.syne_tune import deterministic_clock

    backend = UserBlackboxBackend(
        blackbox=blackbox,
        elapsed_time_attr=ELAPSED,
        max_resource_attr=RESOURCE_BOUND,
        seed=0,
        simulator_config=SimulatorConfig(delay_start=startup_s),
        tuner_sleep_time=poll_s,
    )
    deterministic_clock(backend)
    return backend


@functools.lru_cache(maxsize=8)
def served_blackbox(objective_spec: str, recorded: bool):
    """The recorded configurations by id, or the surrogate over the real space: fitted once
    per process (a study runs thousands of simulations over the same table)."""
    from objectives import load_objective

    objective = load_objective(objective_spec)
    frame, metadata = recorded_table(objective.name)
    max_epochs = int(metadata["max_epochs"])
    metric, _, resource_attr = table_names(metadata)  # as the objective's: plan.simulation_of checks
    if recorded:
        return make_blackbox(frame, max_epochs, metric, resource_attr)
    from experiments.backends.surrogate import surrogate_blackbox
    from objectives.tables import recorded_configurations

    return surrogate_blackbox(frame, recorded_configurations(objective.name), objective.search_space,
                              max_epochs, metric, resource_attr)
