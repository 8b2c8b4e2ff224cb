"""Tune an objective with Ray Tune's own ASHAScheduler, the system of Ray's ASHA tutorial.

    python experiments/run_ray_tune.py --workers 2 --max-wallclock-time 90
    python experiments/run_ray_tune.py --smoke --max-wallclock-time 20     # synthetic data
    python experiments/run_ray_tune.py --ray-address HOST:6379 --checkpoint-dir /shared/hpo

Same objectives, data, flags and trial sizing as `run_asha.py --backend ray`; only the tuner
differs. Ray Tune runs cannot be resumed.
"""

import argparse

from experiments.tuning import console, flags
from experiments.tuning.ray_tune import make_ray_tune_plan, run_ray_tune
from objectives.usage import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    flags.add_run_flags(parser, backends=("ray",), resume=False, max_failures=False)
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    plan = run_command(lambda: make_ray_tune_plan(flags.request_from(args, "asha").replace(backend="ray")))
    print(console.describe(plan).replace("with asha", "with Ray Tune's ASHA"), flush=True)
    console.run_and_summarize(lambda: run_ray_tune(plan))


if __name__ == "__main__":
    main()
