"""The one body behind every launcher command: flags -> request -> plan -> run -> summary.

`run_asha.py` and `run_sync_sh.py` differ only in the methods they offer (a scheduler family,
`experiments.schedulers.METHODS`). Everything the user passes is checked before anything is
written, so bad input exits with code 2 and a one-line message, leaving no half-made
experiment behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.schedulers import METHODS
from experiments.tuning import console, flags
from experiments.tuning.plan import make_plan
from experiments.tuning.resume import plan_resume
from experiments.tuning.run import run_plan
from objectives.usage import run_command


def build_parser(methods: list[str], description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--method", default=methods[0], choices=methods,
                        help="; ".join(f"{name}: {METHODS[name].description}" for name in methods)
                             + " (default %(default)s)")
    flags.add_run_flags(parser)
    return parser


def launch(methods: list[str], description: str, argv=None) -> Path:
    parser = build_parser(methods, description)
    args = parser.parse_args(argv)

    def prepare():
        if args.resume:
            flags.refuse_flags_beside_resume(parser, args)
            plan, tuner, message = plan_resume(args.resume, args.results_dir, methods)
            return plan, tuner, message
        plan = make_plan(flags.request_from(args, args.method))
        return plan, None, console.describe(plan)

    plan, tuner, message = run_command(prepare)
    print(message, flush=True)
    return console.run_and_summarize(lambda: run_plan(plan, tuner))
