"""Syne Tune 0.16's blackbox repository internals the simulated backend builds on (imported only
by simulated runs: the blackbox repository is slow to import).

Why the public API does not do: `BlackboxTabular._objective_function` looks configurations up
through a pandas index that fails for a table with a single hyperparameter column (the
recorded configurations' `config_id`).
"""

from __future__ import annotations

from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular

PRIVATE_NAMES = [
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
