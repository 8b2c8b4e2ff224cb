"""Train one configuration of an objective outside any tuner, printing each report.

Used by each built-in objective module's `__main__`; the hyperparameters become flags named as
in the search space (e.g. `--learning_rate 0.1 --batch_size 128`).
"""

from __future__ import annotations

import argparse
import json
import os

from objectives.objective import Objective, TrialRun
from objectives.usage import run_command


def build_parser(objective: Objective) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python objectives/{objective.name}.py",
        description=f"Train one configuration of {objective.name} ({objective.description}).",
    )
    for name, value in (objective.default_config or {}).items():
        domain = objective.search_space[name]
        parser.add_argument(f"--{name}", type=domain.value_type, default=value,
                            help=f"{domain} (default {value})")
    parser.add_argument("--max_epochs", "--max-epochs", type=int, default=objective.max_resource,
                        help="epochs to train (default %(default)s)")
    parser.add_argument("--data-dir", help="folder holding the data set (see objectives/data.py)")
    parser.add_argument("--smoke", action="store_true", help="synthetic data shaped like the real set")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="CPU threads (default: the CPUs this process may use, %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initial weights (default 0)")
    parser.add_argument("--checkpoint-dir", help="save a checkpoint each epoch here; resume from it")
    return parser


def main(objective: Objective, argv=None) -> None:
    args = build_parser(objective).parse_args(argv)

    def train():
        data = objective.prepare_data(args.data_dir, args.smoke) if objective.prepare_data else None
        config = {name: getattr(args, name) for name in objective.default_config or {}}

        def report(**metrics):
            print(json.dumps(metrics), flush=True)

        objective.train(config, TrialRun(report=report, max_resource=args.max_epochs,
                                         checkpoint_dir=args.checkpoint_dir, data=data,
                                         threads=args.threads, seed=args.seed))

    run_command(train)
