"""Recorded learning curves: one table per objective of full curves (every configuration
trained to the end), written by `experiments/record_curves.py` and replayed by the simulated
backend.

A table is a CSV (one row per configuration and level of resource, in column `epoch`, whatever
the objective calls its resource) with a JSON file beside it holding the settings (the metric,
its mode and the resource's name among them), machine, versions and the configurations
themselves (`configs`: id -> values). The built-in objectives' tables ship with the package
(objectives/tables/); any other objective's are kept in $HPO_TABLES_DIR
(default ~/.cache/hpo-suite/tables).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd

from objectives.files import write_text_atomically

TABLES_DIR = Path(__file__).resolve().parent / "tables"
SAMPLE_SEED = 0
LEVEL, EPOCH_TIME, ELAPSED = "epoch", "epoch_time_s", "elapsed_s"


def user_tables_dir() -> Path:
    return Path(os.environ.get("HPO_TABLES_DIR", "~/.cache/hpo-suite/tables")).expanduser()


def table_path(objective: str) -> Path:
    """Where the objective's table is: shipped with the package (the built-in objectives), or
    among the user's tables."""
    shipped = TABLES_DIR / f"{objective}.csv"
    return shipped if shipped.exists() else user_tables_dir() / f"{objective}.csv"


def table_names(metadata: dict) -> tuple[str, str, str]:
    """(metric, mode, resource name) a table was recorded with; tables from before these were
    recorded are the built-in classifiers'."""
    return (metadata.get("metric", "validation_error"), metadata.get("mode", "min"),
            metadata.get("resource_attr", "epoch"))


def metadata_path(table: Path) -> Path:
    return table.with_suffix(".json")


def load_table(table: Path) -> tuple[pd.DataFrame, dict]:
    """(rows, metadata); an empty frame and {} where nothing is recorded yet."""
    if not table.exists():
        return pd.DataFrame(columns=["config_id", LEVEL]), {}
    metadata = json.loads(metadata_path(table).read_text()) if metadata_path(table).exists() else {}
    return pd.read_csv(table), metadata


def write_table(table: Path, frame: pd.DataFrame, metadata: dict) -> None:
    """Write the table, then its metadata, each atomically: an interruption keeps the previous
    version of each (the metadata may list fewer configurations than the table: those are
    recorded again)."""
    write_text_atomically(table, frame.to_csv(index=False, float_format="%.6g"))
    write_text_atomically(metadata_path(table), json.dumps(metadata, indent=1))


def recorded_configurations(objective: str, table: Path | None = None) -> dict[int, dict]:
    """config_id -> hyperparameters of the configurations recorded for an objective. The name
    may come from an experiment folder someone else made: only a plain name finds a table."""
    if table is None and (not objective or Path(objective).name != objective or objective.startswith(".")):
        return {}
    path = metadata_path(table or table_path(objective))
    if not path.exists():
        return {}
    return {int(k): v for k, v in json.loads(path.read_text()).get("configs", {}).items()}


class UnrecordedConfiguration(LookupError):
    """A trial names a recorded configuration (by `config_id`) that the objective's table lacks."""


def trial_hyperparameters(config: Mapping, objective: str, hyperparameters: Collection[str]) -> dict:
    """The hyperparameters of a trial's configuration as recorded: the configuration itself, or,
    where it holds a `config_id` that is not one of the objective's own `hyperparameters` (a run
    over the recorded configurations), the recorded configuration of that id.

    Every backend's trials, the test evaluation of the best trial and the analysis resolve a
    configuration here. It needs only the objective's name and hyperparameter names, so that the
    analysis, which never loads the objective, resolves configurations as the trials did."""
    if "config_id" not in config or "config_id" in hyperparameters:
        return dict(config)
    config_id = int(config["config_id"])
    recorded = recorded_configurations(objective)
    if config_id not in recorded:
        raise UnrecordedConfiguration(
            f"configuration {config_id} is not recorded for objective {objective!r} "
            f"(see {metadata_path(table_path(objective))})")
    return dict(recorded[config_id])


def complete_curves(frame: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """The rows of configurations recorded for every epoch, sorted by configuration and epoch."""
    complete = frame.groupby("config_id")["epoch"].nunique()
    frame = frame[frame["config_id"].isin(complete[complete == max_epochs].index)]
    return frame.sort_values(["config_id", "epoch"])


def from_unit(domain, u: float):
    """Map u in [0, 1) to a value of a Syne Tune domain (on a log scale where the domain is)."""
    from syne_tune.config_space import Categorical, Float, Integer, is_log_space

    if isinstance(domain, Categorical):
        return domain.categories[min(int(u * len(domain.categories)), len(domain.categories) - 1)]
    if isinstance(domain, Integer):
        return min(domain.lower + int(u * (domain.upper - domain.lower + 1)), domain.upper)
    if isinstance(domain, Float):
        if is_log_space(domain):
            low, high = math.log(domain.lower), math.log(domain.upper)
            return math.exp(low + u * (high - low))
        return domain.lower + u * (domain.upper - domain.lower)
    raise TypeError(f"cannot sample {domain!r}")


def sample_configs(search_space: dict, n: int, seed: int = SAMPLE_SEED) -> list[dict]:
    """The first n points of a scrambled Sobol sequence over the search space's domains."""
    from scipy.stats import qmc
    from syne_tune.config_space import Domain

    names = sorted(k for k, v in search_space.items() if isinstance(v, Domain))
    with warnings.catch_warnings():  # Sobol balance wants powers of 2; any n still works
        warnings.simplefilter("ignore", UserWarning)
        points = qmc.Sobol(d=len(names), scramble=True, seed=seed).random(n)
    return [{name: from_unit(search_space[name], float(u)) for name, u in zip(names, row)}
            for row in points]
