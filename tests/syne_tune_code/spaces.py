"""Config spaces in Syne Tune's form (domains are hyperparameters, other values constants) for
tests/syne_tune_code/train_script.py and tune_function.py."""

from syne_tune.config_space import randint, uniform

config_space = {"width": uniform(0.0, 1.0), "height": randint(1, 10), "steps": 8}
failing = {**config_space, "fail_at": 2}
ignoring_steps = {**config_space, "ignore_steps": 1}
no_hyperparameter = {"width": 0.5, "height": 3, "steps": 8}
tutorial = {"width": uniform(0.0, 1.0), "height": randint(1, 10), "max_epochs": 8}
