"""What is tuned: training jobs that report validation error after every epoch.

Each objective is one module defining an `Objective` (model, optimiser, search space, data).
`OBJECTIVES` maps the names the command line accepts to those modules; `load_objective`
imports one on demand, so `analysis` never pays for importing torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

OBJECTIVES = {
    "fashion_mnist_lenet": "objectives.fashion_mnist_lenet",
    "cifar10_cnn": "objectives.cifar10_cnn",
}

# Keys of a trial's configuration that are settings, not hyperparameters.
TRIAL_SETTINGS = ("objective", "data_file", "max_epochs", "num_threads", "seed", "st_checkpoint_dir")


@dataclass(frozen=True)
class Objective:
    name: str
    search_space: dict[str, Any]  # Syne Tune domains of the tuned hyperparameters
    default_config: dict[str, Any]  # evaluated first, as in the tutorials
    max_epochs: int
    build_model: Callable[[dict], Any]
    make_optimizer: Callable[[Any, dict], Any]
    prepare_data: Callable[..., Path]  # (data_dir) -> path of the decoded cache file
    validation_fraction: float  # held out from the training split
    mean: tuple[float, ...]
    std: tuple[float, ...]
    smoke_shape: tuple[int, int]  # (channels, size) of the synthetic stand-in
    description: str = field(default="")

    def load_splits(self, data_file: str):
        from objectives.data import load_splits

        return load_splits(data_file, self.validation_fraction, self.smoke_shape)

    def run_trial(self, hyperparameters, data_file, max_epochs, num_threads, seed,
                  checkpoint_dir, report) -> None:
        import torch

        from objectives.training import TrialSetup, train

        torch.manual_seed(seed)  # before building the model: the initial weights depend on it
        setup = TrialSetup(
            max_epochs=max_epochs,
            batch_size=int(hyperparameters["batch_size"]),
            checkpoint_dir=checkpoint_dir,
            num_threads=num_threads,
        )
        model = self.build_model(hyperparameters)
        train(
            model,
            lambda m: self.make_optimizer(m, hyperparameters),
            self.load_splits(data_file),
            self.mean,
            self.std,
            setup,
            report,
        )

    def test_error(self, hyperparameters, checkpoint_dir, data_file) -> float:
        from objectives.training import test_error_of_checkpoint

        return test_error_of_checkpoint(
            self.build_model(hyperparameters),
            checkpoint_dir,
            self.load_splits(data_file),
            self.mean,
            self.std,
        )


TABLES_DIR = Path(__file__).resolve().parent / "tables"


def recorded_configurations(name: str) -> dict[int, dict]:
    """config_id -> hyperparameters of the configurations recorded for an objective
    (experiments/record_curves.py writes them beside the table)."""
    import json

    path = TABLES_DIR / f"{name}.json"
    if not path.exists():
        return {}
    return {int(k): v for k, v in json.loads(path.read_text()).get("configs", {}).items()}


def load_objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise KeyError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return importlib.import_module(OBJECTIVES[name]).OBJECTIVE


def trial_entry_point(objective, data_file, max_epochs, num_threads, seed, st_checkpoint_dir,
                      **hyperparameters):
    """What `PythonBackend` runs in each trial's process.

    PythonBackend rebuilds this function from its code object with empty globals, so it has no
    default values and imports everything it uses inside its body.
    """
    from syne_tune import Reporter

    report = Reporter()  # started first, so st_worker_time includes loading data
    from objectives import load_objective, recorded_configurations

    if "config_id" in hyperparameters:  # a configuration of the recorded table (see README)
        hyperparameters = recorded_configurations(objective)[hyperparameters["config_id"]]
    load_objective(objective).run_trial(
        hyperparameters, data_file, max_epochs, num_threads, seed, st_checkpoint_dir, report
    )
