"""The one body behind every launcher command: flags -> request -> plan -> run -> summary.

`run_asha.py` and `run_sync_sh.py` differ only in the methods they offer (a scheduler family,
`experiments.schedulers.METHODS`). Everything the user passes is checked before anything is
written, so bad input exits with code 2 and a one-line message, leaving no half-made
experiment behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.schedulers import METHODS, STUDY_SETTINGS, LauncherDefaults
from experiments.tuning import console, flags
from experiments.tuning.plan import make_plan
from experiments.tuning.resume import plan_resume
from experiments.tuning.run import run_plan
from objectives.usage import run_command


def build_parser(methods: list[str], description: str, defaults: LauncherDefaults | None = None
                 ) -> argparse.ArgumentParser:
    """The launcher's flags; `defaults`: its method and rung settings when no flag says (else
    the first method, at the study's settings)."""
    defaults = defaults or LauncherDefaults(methods[0], STUDY_SETTINGS, "the study's settings")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--method", default=defaults.method, choices=methods,
                        help="; ".join(f"{name}: {METHODS[name].description}" for name in methods)
                             + f" (default %(default)s, at grace period {defaults.settings.grace_period} and "
                               f"reduction factor {defaults.settings.reduction_factor}: {defaults.why})")
    flags.add_run_flags(parser, settings=defaults.settings)
    return parser


def launch(methods: list[str], description: str, argv=None, defaults: LauncherDefaults | None = None) -> Path:
    parser = build_parser(methods, description, defaults)
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
