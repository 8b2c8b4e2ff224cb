"""Check that trials share GPUs well: a short ASHA on every visible GPU with K trials per GPU.

    python experiments/gpu_check.py                     # K = 1, 4, 16; 60 s each; real FashionMNIST
    python experiments/gpu_check.py --trials-per-gpu 1,8 --max-wallclock-time 30 --json

Prints, per K: trials and epochs per minute, the median epoch time, the GPU memory each trial's
process holds (CUDA context included, from nvidia-smi) and its tensors' peak (torch), and how
busy the GPUs were.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

from experiments.measurements.gpu import sharing_run
from experiments.tuning.run import deliver_sigterm_as_interrupt
from objectives.usage import UsageError, run_command


def parse_ks(text: str) -> list[int]:
    try:
        ks = [int(k) for k in text.split(",")]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise UsageError(f"--trials-per-gpu {text!r}: give positive integers, e.g. 1,4,16")
    return ks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials-per-gpu", default="1,4,16", metavar="K,K,...",
                        help="trial counts per GPU to measure (default %(default)s)")
    parser.add_argument("--max-wallclock-time", type=float, default=60.0, metavar="SECONDS",
                        help="budget of each run (default %(default)s)")
    parser.add_argument("--objective", default="fashion_mnist_lenet", help="what to tune (default %(default)s)")
    parser.add_argument("--smoke", action="store_true", help="synthetic data instead of the real set")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="keep the experiments there (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    ks = run_command(lambda: parse_ks(args.trials_per_gpu))
    deliver_sigterm_as_interrupt()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            print(f"K = {k} trial(s) per GPU, {args.max_wallclock_time:g} s ...", file=sys.stderr, flush=True)
            with contextlib.redirect_stdout(sys.stderr):  # the tuner's progress is not the result
                rows.append(run_command(lambda: sharing_run(
                    k, args.max_wallclock_time, args.results_dir or Path(tmp), args.objective, args.smoke)))
    if args.json:
        print(json.dumps(rows))
        return
    columns = ["trials_per_gpu", "gpus", "workers", "trials_per_minute", "epochs_per_minute",
               "median_epoch_s", "gpu_memory_per_trial_mb", "gpu_memory_used_max_per_worker_mb",
               "tensor_peak_per_trial_mb", "gpu_utilization_pct"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    main()
