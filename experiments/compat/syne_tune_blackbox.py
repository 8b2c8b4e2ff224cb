"""Syne Tune 0.16's blackbox repository internals the simulated backend builds on (imported only
by simulated runs: the blackbox repository is slow to import).

Why the public API does not do: `BlackboxTabular._objective_function` looks configurations up
through a pandas index that fails for a table with a single hyperparameter column (the
recorded configurations' `config_id`); and a blackbox that computes its curves its own way (the
surrogate's fast path) can only say so by overriding `Blackbox._objective_function`, the one
method the simulator calls.
"""

from __future__ import annotations

import numpy as np
from syne_tune.blackbox_repository.blackbox import Blackbox
from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular

PRIVATE_NAMES = [
    ("syne_tune.blackbox_repository.blackbox.Blackbox", "_objective_function",
     "(self, configuration: dict[str, typing.Any], fidelity: dict | None = None, seed: int | None = None)"
     " -> dict[str, float] | numpy.ndarray"),
    ("syne_tune.blackbox_repository.blackbox_tabular.BlackboxTabular", "_objective_function",
     "(self, configuration: dict | int, fidelity: dict | None = None, seed: int | None = None)"
     " -> dict[str, float] | numpy.ndarray"),
]


class SingleColumnTabular(BlackboxTabular):
    """BlackboxTabular over configurations identified by one integer column, `config_id`;
    `rows` maps each id to its row of `objectives_evaluations`."""

    def __init__(self, *args, rows: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows

    def _objective_function(self, configuration, fidelity=None, seed=None):
        if isinstance(configuration, dict):
            configuration = self.rows[int(configuration["config_id"])]
        return super()._objective_function(configuration, fidelity, seed)


class CurveBlackbox(Blackbox):
    """A blackbox defined by `curve(configuration)`: the objectives at every fidelity of
    `fidelity_values`, an array (fidelities, objectives)."""

    def curve(self, configuration: dict) -> np.ndarray:
        raise NotImplementedError

    def _objective_function(self, configuration, fidelity=None, seed=None):
        curve = self.curve(configuration)
        if fidelity is None:
            return curve
        row = int(np.where(np.asarray(self.fidelity_values) == list(fidelity.values())[0])[0][0])
        return dict(zip(self.objectives_names, curve[row]))
