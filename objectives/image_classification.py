"""A helper for objectives that are image classifiers: uint8 tensors decoded once into a cache,
normalisation, synthetic data for smoke runs, a held-out validation part of the training split
and a test split used once, after tuning.

`ImageClassifier.objective(...)` turns a model and an optimiser into an `Objective`; the
built-in objectives are made this way, and an image classifier of yours can be too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from objectives.objective import Objective, TrialRun

CHECKPOINT_FILE = "checkpoint.pt"  # objectives.training writes it; here without importing torch


@dataclass(frozen=True)
class ImageClassifier:
    build_model: Callable[[dict], Any]  # config -> torch.nn.Module
    make_optimizer: Callable[[Any, dict], Any]  # (model, config) -> torch.optim.Optimizer
    find_data: Callable[[str | None], Path]  # (data_dir) -> path of the decoded cache file
    validation_fraction: float  # held out from the training split
    mean: tuple[float, ...]
    std: tuple[float, ...]
    smoke_shape: tuple[int, int]  # (channels, size) of the synthetic stand-in

    def prepare_data(self, data_dir: str | None, smoke: bool) -> str:
        from objectives.data import SMOKE

        return SMOKE if smoke else str(self.find_data(data_dir))

    def load_splits(self, data: str):
        from objectives.data import load_splits

        return load_splits(data, self.validation_fraction, self.smoke_shape)

    def preload(self, data: str | None) -> None:
        if data is not None:
            self.load_splits(data)

    def train(self, config: dict, run: TrialRun) -> None:
        import torch

        from objectives.training import TrialSetup, train

        torch.manual_seed(run.seed)  # before building the model: the initial weights depend on it
        setup = TrialSetup(max_epochs=run.max_resource, batch_size=int(config["batch_size"]),
                           checkpoint_dir=run.checkpoint_dir, num_threads=run.threads)
        model = self.build_model(config)
        train(model, lambda m: self.make_optimizer(m, config), self.load_splits(run.data),
              self.mean, self.std, setup, run.report)

    def evaluate_test(self, config: dict, checkpoint_dir: str, data: str | None) -> float:
        from objectives.training import test_error_of_checkpoint

        return test_error_of_checkpoint(self.build_model(config), checkpoint_dir,
                                        self.load_splits(data), self.mean, self.std)

    def objective(self, *, name: str, search_space: dict, default_config: dict, max_epochs: int,
                  description: str) -> Objective:
        """The objective: validation error (1 - accuracy on the held-out part) after each epoch,
        minimised; the best trial's error on the test split after tuning."""
        return Objective(
            name=name, search_space=search_space, max_resource=max_epochs, train=self.train,
            metric="validation_error", mode="min", resource_attr="epoch",
            default_config=default_config, prepare_data=self.prepare_data, preload=self.preload,
            evaluate_test=self.evaluate_test, test_metric="test_error", description=description,
            load_model_code=(
                f"import torch; from {self.build_model.__module__} import build_model\n"
                "model = build_model({config}); model.load_state_dict(torch.load("
                f"'{{checkpoint}}/{CHECKPOINT_FILE}', weights_only=True)['model'])"),
        )
