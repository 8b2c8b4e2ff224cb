"""The objectives themselves: models, reports, checkpoints, divergence, the debug script."""

from __future__ import annotations

import json

import pytest
import torch

from objectives import TrialRun, load_objective
from objectives.data import SMOKE
from objectives.training import CHECKPOINT_NAME
from tests.conftest import run_script
from tests.test_data import needs_debian_fashion_mnist


def collect(objective, hyperparameters, data_file=SMOKE, max_epochs=2, checkpoint_dir=None, seed=0):
    reports = []
    objective.train(hyperparameters, TrialRun(report=lambda **metrics: reports.append(metrics),
                                              max_resource=max_epochs, checkpoint_dir=checkpoint_dir,
                                              data=data_file, threads=1, seed=seed))
    return reports


def test_lenet_is_d2l_lenet():
    from objectives.fashion_mnist_lenet import build_model

    model = build_model({})
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert sum(isinstance(m, torch.nn.Sigmoid) for m in model.modules()) == 4
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in model.modules()) == 2
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_cifar_cnn_shapes_follow_l1_l2():
    from objectives.cifar10_cnn import build_model

    model = build_model({"l1": 32, "l2": 8})
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert model.classifier[0].out_features == 32 and model.classifier[2].out_features == 8


@pytest.mark.parametrize("name", ["fashion_mnist_lenet", "cifar10_cnn"])
def test_reports_every_epoch_with_sample_weighted_errors(name):
    import importlib

    from tests.test_run_asha import assert_counts_of_wrong_images

    objective = load_objective(name)
    reports = collect(objective, objective.default_config, max_epochs=3)
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    # whole numbers of wrong images out of the held-out part of the training split
    n_validation = len(importlib.import_module(f"objectives.{name}").CLASSIFIER.load_splits(SMOKE).val_y)
    assert n_validation == round(2048 * {"fashion_mnist_lenet": 1 / 6, "cifar10_cnn": 0.2}[name])
    assert_counts_of_wrong_images([r["validation_error"] for r in reports], n_validation)
    assert all(r["validation_loss"] > 0 for r in reports)


def test_resumed_trial_continues_at_next_epoch(tmp_path):
    objective = load_objective("fashion_mnist_lenet")
    config = {"learning_rate": 0.5, "batch_size": 64}
    first = collect(objective, config, max_epochs=2, checkpoint_dir=str(tmp_path))
    assert (tmp_path / CHECKPOINT_NAME).exists()
    second = collect(objective, config, max_epochs=4, checkpoint_dir=str(tmp_path))
    assert [r["epoch"] for r in first] == [1, 2]
    assert [r["epoch"] for r in second] == [3, 4]
    # the resumed run equals an uninterrupted one: the checkpoint holds weights, optimiser and RNG
    straight = collect(objective, config, max_epochs=4)
    assert second[-1]["validation_error"] == pytest.approx(straight[-1]["validation_error"], abs=1e-9)


def test_diverged_run_reports_error_one_and_ends():
    objective = load_objective("cifar10_cnn")
    reports = collect(objective, {"l1": 16, "l2": 16, "lr": 1e12, "batch_size": 16}, max_epochs=5)
    assert reports[-1]["validation_error"] == 1.0
    assert reports[-1]["diverged"] == 1
    assert len(reports) < 5


@needs_debian_fashion_mnist
def test_good_learning_rate_lowers_error_on_real_fashion_mnist():
    objective = load_objective("fashion_mnist_lenet")
    data_file = objective.prepare_data(None, False)
    reports = collect(objective, {"learning_rate": 0.9, "batch_size": 128}, data_file, max_epochs=2)
    errors = [r["validation_error"] for r in reports]
    assert errors[1] < errors[0]
    assert errors[1] < 0.5


def test_debug_script_trains_one_configuration():
    completed = run_script(["objectives/fashion_mnist_lenet.py", "--smoke", "--learning_rate",
                            "0.3", "--batch_size", "64", "--max_epochs", "2", "--threads", "1"])
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert [line["epoch"] for line in lines] == [1, 2]


def test_debug_script_missing_data_exits_2(tmp_path):
    completed = run_script(["objectives/cifar10_cnn.py", "--data-dir", str(tmp_path)], check=False)
    assert completed.returncode == 2
    assert "does not hold CIFAR-10" in completed.stderr


def test_recorded_configuration_is_resolved_by_its_id_only_where_the_space_has_none():
    """The one resolver every backend's trials, the test evaluation and the analysis use."""
    from objectives.tables import UnrecordedConfiguration, recorded_configurations, trial_hyperparameters

    recorded = recorded_configurations("fashion_mnist_lenet")
    config_id = min(recorded)
    space = load_objective("fashion_mnist_lenet").search_space
    assert trial_hyperparameters({"config_id": config_id}, "fashion_mnist_lenet", space) == recorded[config_id]
    assert trial_hyperparameters({"config_id": float(config_id)}, "fashion_mnist_lenet", []) == recorded[config_id]
    # hyperparameters as they are; an objective's own config_id is a hyperparameter like any other
    assert trial_hyperparameters({"learning_rate": 0.1}, "fashion_mnist_lenet", space) == {"learning_rate": 0.1}
    assert trial_hyperparameters({"config_id": 3}, "fashion_mnist_lenet", ["config_id"]) == {"config_id": 3}
    with pytest.raises(UnrecordedConfiguration, match="not recorded"):
        trial_hyperparameters({"config_id": max(recorded) + 1}, "fashion_mnist_lenet", space)
    with pytest.raises(UnrecordedConfiguration):  # a name that is no table's: nothing is read
        trial_hyperparameters({"config_id": 0}, "../fashion_mnist_lenet", [])
