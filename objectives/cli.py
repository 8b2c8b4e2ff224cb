"""Run one configuration of an objective outside any tuner, printing each epoch's report.

Used by each objective module's `__main__`; the hyperparameters become flags named as in the
search space (e.g. `--learning_rate 0.1 --batch_size 128`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from objectives import Objective
from objectives.data import SMOKE, DataNotFoundError


def parse_args(objective: Objective, argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python objectives/{objective.name}.py",
        description=f"Train one configuration of {objective.name} ({objective.description}).",
    )
    for name, value in objective.default_config.items():
        domain = objective.search_space[name]
        parser.add_argument(f"--{name}", type=domain.value_type, default=value,
                            help=f"{domain} (default {value})")
    parser.add_argument("--max_epochs", "--max-epochs", type=int, default=objective.max_epochs)
    parser.add_argument("--data-dir", help="folder holding the data set (see objectives/data.py)")
    parser.add_argument("--smoke", action="store_true", help="synthetic data shaped like the real set")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", help="save a checkpoint each epoch here; resume from it")
    return parser.parse_args(argv)


def main(objective: Objective, argv=None) -> None:
    args = parse_args(objective, argv)
    try:
        data_file = SMOKE if args.smoke else str(objective.prepare_data(args.data_dir))
    except DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    hyperparameters = {name: getattr(args, name) for name in objective.default_config}

    def report(**metrics):
        print(json.dumps(metrics), flush=True)

    objective.run_trial(hyperparameters, data_file, args.max_epochs, args.threads, args.seed,
                        args.checkpoint_dir, report)
