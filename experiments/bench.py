"""Measure what limits ASHA's throughput here, each figure against a reference in the same run.

    python experiments/bench.py            # table (about 9 minutes on 2 cores)
    python experiments/bench.py --json     # one JSON object
    python experiments/bench.py --quick    # 30 s tuning runs (a smoke check, about 5 minutes)

A figure measured repeatedly is reported as {median, min, max, repeats}. Epoch times are
measured in alternating rounds (reference, suite, suite in the other precision; again; ...),
and every ratio is taken within a round, so the range shows how much a shared, noisy machine
moved it.

Figures:
  epoch_speedup       LeNet training epoch (batch 128, two trials at once, threads split as the
                      launcher splits them): d2l's pipeline (torchvision dataset, DataLoader with
                      4 workers, Resize + ToTensor, fp32) time / the suite's objective time (in
                      the precision it chooses here, `suite_precision`).
  bf16_epoch_speedup  the suite's epoch with HPO_PRECISION=fp32 / with bf16, in the same rounds;
                      "n/a" where the CPU does not compute bf16 natively.
  validation_error_fp32, validation_error_bf16
                      the suite's validation error after 2 epochs in each precision (seed 0,
                      learning rate 0.9, batch 128; both trained at once).
  flop_efficiency     the epoch's floating-point work (counted by torch's FlopCounterMode on one
                      forward and backward pass, times the number of batches) / its median time,
                      over the dense fp32 GEMM rate measured for the same thread count.
  startup_s           median time from the tuner starting a trial to its first training step.
  reaction_s          median time from a trial's last report (it ends, or is stopped) to the
                      next trial starting on that worker.
  utilization         over a real 2-worker ASHA run on FashionMNIST (grace period 1): the
                      fraction of worker-seconds spent inside training and validation epochs,
                      up to the last report.
  sim_speedup         simulated seconds per real second of a simulated 4-worker ASHA run (3600
                      simulated seconds over the recorded table).
Memory of the warm backend on the CPU (MB; PSS, the proportional set size from
/proc/PID/smaps_rollup, counts a page shared by k processes as 1/k in each), sampled every
0.5 s during the 2-worker warm run and a 4-worker warm run, over the samples in which every
worker's trial was running:
  forkserver_pss_mb   the warm backend's forkserver (torch and the data set, shared with the
                      trials it forks) during the 2-worker run; forkserver_anon_pss_mb: of its
                      anonymous pages (heap, tensors), which only the trials share.
  trial_pss_mb        each running trial; trial_private_mb: the part no other process maps;
                      trial_file_pss_mb: its share of file-backed pages (shared libraries).
  warm_pss_mb_N_trials
                      the forkserver's and the trials' PSS together, with N trials running;
                      warm_anon_pss_mb_N_trials: of their anonymous pages only.
  trial_added_mb      what one more trial at once adds: (warm_pss_mb_4_trials -
                      warm_pss_mb_2_trials) / 2. Goal: <= 250. Other programs mapping the same
                      shared libraries (torch) take shares of their pages and move this figure;
                      trial_added_anon_mb, the same difference over anonymous pages only, is
                      not moved by them.
  trial_breakdown     the largest trial seen: its smaps_rollup and largest private mappings.
  peak_rss_mb         peak resident memory of one standalone LeNet trial process (1 epoch).
The tuning-run figures are measured for each backend given by --backends (the first one
headlines; the others get the backend's name as suffix); the memory figures need `warm`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from experiments.measurements.throughput import (
    Pipeline, WarmTreeSampler, added_per_trial, alternate, describe, epoch_flops, gemm_rate,
    memory_at, paired_ratios, peak_rss_mb, private_kb, run_at_once, sim_speedup, spread, torchvision_layout,
    trial_breakdown, tuning_figures, tuning_run,
)
from objectives.usage import UsageError, run_command

TUNING_BACKENDS = ("warm", "python")  # backends whose trials are local processes
DEFAULT_BUDGET_S = 120.0
QUICK_BUDGET_S = 30.0
MEMORY_BUDGET_S = 60.0  # the extra 4-worker warm run (at most the tuning runs' budget)
MEMORY_WORKERS = (2, 4)  # trials at once in the two warm runs whose memory is compared
TRIAL_MEMORY_GOAL_MB = 250
VALIDATION_EPOCHS = 2
# d2l's learning rate for this sigmoid LeNet: at the timing runs' 0.1 the validation error is
# still near chance (about 0.85) after 2 epochs, which would hide any difference
VALIDATION_LEARNING_RATE = 0.9


@dataclass(frozen=True)
class Options:
    backends: list[str]
    budget_s: float
    repeats: int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--max-wallclock-time", type=float, default=None, metavar="SECONDS",
                        help=f"length of each tuning run in seconds (default {DEFAULT_BUDGET_S:g}; "
                             f"{QUICK_BUDGET_S:g} with --quick); the 4-worker memory run lasts at "
                             f"most {MEMORY_BUDGET_S:g}")
    parser.add_argument("--backends", default="warm,python",
                        help=f"comma-separated backends whose tuning runs are measured, of "
                             f"{', '.join(TUNING_BACKENDS)}; the first one headlines, and the memory "
                             f"figures need warm (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating rounds of epoch measurements (default %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_BUDGET_S:g} s tuning runs unless --max-wallclock-time is given "
                             f"(a smoke check)")
    return parser


def parse_backends(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    fix = f"give a comma-separated list of {', '.join(TUNING_BACKENDS)}, e.g. --backends warm,python"
    for name in names:
        if name not in TUNING_BACKENDS:
            problem = "an empty name" if not name else f"unknown backend {name!r}"
            raise UsageError(f"--backends {text}: {problem}; {fix}")
    if len(set(names)) < len(names):
        raise UsageError(f"--backends {text}: a backend is named twice; {fix}")
    return names


def check_options(args: argparse.Namespace) -> Options:
    """Everything the flags say, checked before anything is measured."""
    backends = parse_backends(args.backends)
    budget = args.max_wallclock_time
    if budget is None:
        budget = QUICK_BUDGET_S if args.quick else DEFAULT_BUDGET_S
    if not budget > 0:
        raise UsageError(f"--max-wallclock-time {budget:g}: the length of a run must be positive")
    if args.repeats < 1:
        raise UsageError(f"--repeats {args.repeats}: must be at least 1 (3 or more give a range)")
    return Options(backends=backends, budget_s=budget, repeats=args.repeats)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def epoch_figures(data_file: str, n_train: int, repeats: int, threads: int) -> dict:
    """Reference against suite, and fp32 against bf16, in alternating rounds; validation error
    after VALIDATION_EPOCHS epochs in each precision."""
    import torch

    from objectives.torch_compat import cpu_has_native_bf16
    from objectives.training import PRECISION_ENV, use_bf16

    native_bf16 = cpu_has_native_bf16()
    precision = "bf16" if use_bf16(torch.device("cpu")) else "fp32"
    other = "fp32" if precision == "bf16" else "bf16"
    with tempfile.TemporaryDirectory() as root:
        torchvision_layout(Path(root))
        pipelines = [Pipeline("reference", "reference", root),
                     Pipeline(f"suite {precision}", "suite", data_file, {PRECISION_ENV: precision})]
        if native_bf16:
            pipelines.append(Pipeline(f"suite {other}", "suite", data_file, {PRECISION_ENV: other}))
        times = alternate(pipelines, repeats, threads, progress)
    reference, suite = times["reference"], times[f"suite {precision}"]
    flops, gemm = epoch_flops(n_train), gemm_rate(threads)
    figures = {
        "epoch_reference_s": spread(reference),
        "epoch_suite_s": spread(suite),
        "suite_precision": precision,
        "epoch_speedup": spread(paired_ratios(reference, suite), 2),
    }
    not_native = "n/a (this CPU does not compute bf16 natively)"
    if native_bf16:
        fp32, bf16 = times["suite fp32"], times["suite bf16"]
        progress(f"validation error after {VALIDATION_EPOCHS} epochs: fp32 and bf16 at once ...")
        errors = run_at_once([Pipeline(p, "suite", data_file, {PRECISION_ENV: p}, VALIDATION_EPOCHS,
                                       VALIDATION_LEARNING_RATE) for p in ("fp32", "bf16")], threads)
        figures.update({
            "epoch_fp32_s": spread(fp32), "epoch_bf16_s": spread(bf16),
            "bf16_epoch_speedup": spread(paired_ratios(fp32, bf16), 2),
            "validation_error_fp32": round(errors[0]["validation_error"], 4),
            "validation_error_bf16": round(errors[1]["validation_error"], 4),
        })
    else:
        progress(f"validation error after {VALIDATION_EPOCHS} epochs: fp32 ...")
        error = run_at_once([Pipeline("fp32", "suite", data_file, {PRECISION_ENV: "fp32"},
                                      VALIDATION_EPOCHS, VALIDATION_LEARNING_RATE)],
                            threads)[0]["validation_error"]
        figures.update({"bf16_epoch_speedup": not_native, "validation_error_fp32": round(error, 4),
                        "validation_error_bf16": not_native})
    figures.update({
        "epoch_gflop": round(flops / 1e9, 1),
        "gemm_gflops": round(gemm / 1e9, 1),
        "flop_efficiency": round(flops / spread(suite)["median"] / gemm, 3),
        "threads_per_trial": threads,
    })
    return figures


def memory_figures(low: WarmTreeSampler, high: WarmTreeSampler) -> dict:
    """Per-trial memory of the warm backend from its runs with MEMORY_WORKERS trials at once."""
    (n_low, n_high) = MEMORY_WORKERS
    at_low, at_high = memory_at(low, n_low), memory_at(high, n_high)
    missing = [n for n, at in ((n_low, at_low), (n_high, at_high)) if not at]
    if missing:
        return {"trial_added_mb": f"n/a (no sample with {missing[0]} warm trials running)"}
    added = added_per_trial(at_low["warm_pss_mb"], n_low, at_high["warm_pss_mb"], n_high)
    added_anon = added_per_trial(at_low["warm_anon_pss_mb"], n_low, at_high["warm_anon_pss_mb"], n_high)
    largest = max((s.largest_trial for s in (low, high) if s.largest_trial),
                  key=lambda trial: private_kb(trial["rollup"]),
                  default=None)
    return {
        "forkserver_pss_mb": at_low["forkserver_pss_mb"],
        "forkserver_anon_pss_mb": at_low["forkserver_anon_pss_mb"],
        "forkserver_rss_mb": at_low["forkserver_rss_mb"],
        "trial_pss_mb": at_low["trial_pss_mb"],
        "trial_private_mb": at_low["trial_private_mb"],
        "trial_rss_mb": at_low["trial_rss_mb"],
        "trial_file_pss_mb": at_low["trial_file_pss_mb"],
        f"warm_pss_mb_{n_low}_trials": at_low["warm_pss_mb"],
        f"warm_pss_mb_{n_high}_trials": at_high["warm_pss_mb"],
        f"warm_anon_pss_mb_{n_low}_trials": at_low["warm_anon_pss_mb"],
        f"warm_anon_pss_mb_{n_high}_trials": at_high["warm_anon_pss_mb"],
        f"trial_pss_mb_{n_high}_trials": at_high["trial_pss_mb"],
        "trial_added_mb": round(added, 1),
        "trial_added_anon_mb": round(added_anon, 1),
        "trial_added_goal_mb": TRIAL_MEMORY_GOAL_MB,
        "trial_added_within_goal": added <= TRIAL_MEMORY_GOAL_MB,
        "memory_samples": {str(n_low): at_low["samples"], str(n_high): at_high["samples"]},
        "trial_breakdown": trial_breakdown(largest),
    }


def tuning_and_memory(options: Options) -> dict:
    """The tuning runs of each backend (the warm 2-worker run sampled for memory), then a
    4-worker warm run for the memory one more trial adds."""
    figures, samplers = {}, {}
    with tempfile.TemporaryDirectory() as results_dir:
        for backend in options.backends:
            progress(f"tuning run: 2-worker ASHA, {options.budget_s:g} s, backend {backend} ...")
            with contextlib.redirect_stdout(sys.stderr), \
                    (WarmTreeSampler() if backend == "warm" else contextlib.nullcontext()) as sampler:
                experiment = tuning_run(backend, options.budget_s, Path(results_dir))
            if sampler is not None:
                samplers[MEMORY_WORKERS[0]] = sampler
            suffix = "" if backend == options.backends[0] else f"_{backend}"
            figures.update({f"{key}{suffix}": value
                            for key, value in tuning_figures(experiment).items()})
            figures[f"backend{suffix}"] = backend
        if "warm" in options.backends:
            workers, budget = MEMORY_WORKERS[1], min(options.budget_s, MEMORY_BUDGET_S)
            progress(f"memory run: {workers}-worker ASHA, {budget:g} s, backend warm ...")
            with contextlib.redirect_stdout(sys.stderr), WarmTreeSampler() as sampler:
                tuning_run("warm", budget, Path(results_dir), workers=workers)
            samplers[workers] = sampler
    if "warm" in options.backends:
        figures.update(memory_figures(samplers[MEMORY_WORKERS[0]], samplers[MEMORY_WORKERS[1]]))
    else:
        figures["trial_added_mb"] = "n/a (--backends has no warm)"
    return figures


def measure(options: Options) -> dict:
    from experiments.tuning import resources
    from objectives import load_objective
    from objectives.fashion_mnist_lenet import CLASSIFIER

    data_file = load_objective("fashion_mnist_lenet").prepare_data(None, False)
    n_train = len(CLASSIFIER.load_splits(data_file).train_x)
    # two trials at once, as a 2-worker launcher splits the cores
    threads = resources.threads_per_trial(2, resources.cpus_available(), 0, None)
    figures = epoch_figures(data_file, n_train, options.repeats, threads)
    figures.update(tuning_and_memory(options))
    progress("simulated run ...")
    figures["sim_speedup"] = sim_speedup()
    progress("peak RSS of a standalone trial ...")
    figures["peak_rss_mb"] = peak_rss_mb(data_file)
    return figures


def show(figures: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures))
        return
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {describe(value)}")


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)

    def bench() -> None:
        options = check_options(args)
        show(measure(options), args.json)

    run_command(bench)


if __name__ == "__main__":
    main()
