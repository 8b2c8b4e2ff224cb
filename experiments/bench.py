"""Measure what limits ASHA's throughput here, each figure against a reference in the same run.

    python experiments/bench.py            # table (about 6 minutes on 2 cores)
    python experiments/bench.py --json     # one JSON object
    python experiments/bench.py --quick    # shorter tuning runs (for a smoke check)

Figures:
  epoch_speedup    LeNet training epoch (batch 128, two trials at once, threads split as the
                   launcher splits them): d2l's pipeline (torchvision dataset, DataLoader with
                   4 workers, Resize + ToTensor, fp32) time / the suite's objective time.
  flop_efficiency  the epoch's floating-point work (counted by torch's FlopCounterMode on one
                   forward and backward pass, times the number of batches) / its time, over
                   the dense fp32 GEMM rate measured for the same thread count.
  startup_s        median time from the tuner starting a trial to its first training step.
  reaction_s       median time from a trial's last report (it ends, or is stopped) to the next
                   trial starting on that worker.
  utilization      over a real 2-worker ASHA run on FashionMNIST (grace period 1): the
                   fraction of worker-seconds spent inside training and validation epochs,
                   up to the last report.
  sim_speedup      simulated seconds per real second of a simulated 4-worker ASHA run (3600
                   simulated seconds over the recorded table).
  peak_rss_mb      peak resident memory of one LeNet trial process (objective script, 1 epoch).
The tuning-run figures are measured for each backend given by --backends.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


BATCH_SIZE = 128
LEARNING_RATE = 0.1
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Epoch time: the reference pipeline and the suite's, one process per trial
# ---------------------------------------------------------------------------------------------


def reference_epoch(threads: int, raw_root: str) -> float:
    """One training epoch the way d2l builds it (torchvision dataset + DataLoader)."""
    import torch
    import torchvision
    from torchvision import transforms

    from objectives.fashion_mnist_lenet import build_model

    torch.set_num_threads(threads)
    transform = transforms.Compose([transforms.Resize((28, 28)), transforms.ToTensor()])
    dataset = torchvision.datasets.FashionMNIST(raw_root, train=True, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=4)
    torch.manual_seed(0)
    model = build_model({})
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    started = time.perf_counter()
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def suite_epoch(threads: int, data_file: str) -> float:
    """One training epoch of the suite's objective (reported train_time_s)."""
    from objectives import TrialRun, load_objective

    reports = []
    load_objective("fashion_mnist_lenet").train(
        {"learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE},
        TrialRun(report=lambda **metrics: reports.append(metrics), max_resource=1,
                 checkpoint_dir=None, data=data_file, threads=threads, seed=0))
    return reports[0]["train_time_s"]


def torchvision_layout(root: Path) -> None:
    """torchvision's FashionMNIST wants the uncompressed files under root/FashionMNIST/raw."""
    from objectives.data import FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_FILES

    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ.get("FASHION_MNIST_DIR", FASHION_MNIST_DEBIAN_DIR))
    for stem in FASHION_MNIST_FILES.values():
        with gzip.open(source / f"{stem}.gz") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)


def two_trials_at_once(pipeline: str, arg: str, threads: int) -> list[float]:
    """Run two epoch measurements concurrently in separate processes; their epoch times."""
    command = [sys.executable, __file__, "--measure", pipeline, "--threads", str(threads), "--arg", arg]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    times = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"{pipeline} epoch measurement failed")
        times.append(json.loads(out.strip().splitlines()[-1])["seconds"])
    return times


# ---------------------------------------------------------------------------------------------
# FLOPs and GEMM rate
# ---------------------------------------------------------------------------------------------


def epoch_flops(n_train: int) -> float:
    """Forward + backward FLOPs of one epoch, counted by torch on one batch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from objectives.fashion_mnist_lenet import build_model

    model = build_model({})
    x = torch.rand(BATCH_SIZE, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH_SIZE,))
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() * n_train / BATCH_SIZE


def gemm_rate(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Dense fp32 matrix-multiply rate in FLOP/s for this thread count."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.rand(size, size), torch.rand(size, size)
    for _ in range(3):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# A real tuning run: start-up, reaction and utilization
# ---------------------------------------------------------------------------------------------


def tuning_run(backend: str, budget: float, results_dir: Path) -> Path:
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    return run_plan(make_plan(RunRequest(
        workers=2, budget_s=budget, grace_period=1, backend=backend, results_dir=results_dir,
        experiment_name=f"bench-{backend}")))


def tuning_figures(experiment: Path) -> dict:
    import pandas as pd

    results = pd.read_csv(experiment / "results.csv.zip")
    metadata = json.loads((experiment / "metadata.json").read_text())
    segments = pd.DataFrame(metadata["trial_timeline"]).sort_values("start_s")
    # start-up: trial (re)started by the tuner -> first training step of that process
    first_steps = results.groupby(["trial_id", "first_step_at"]).size().reset_index()
    startups = []
    for _, seg in segments.iterrows():
        steps = first_steps[(first_steps["trial_id"] == seg["trial_id"])
                            & (first_steps["first_step_at"] >= seg["start_unix"])]
        if not steps.empty:
            startups.append(steps["first_step_at"].min() - seg["start_unix"])
    # reaction: a trial's last report -> the next trial starting on the same worker
    last_report = results.groupby("trial_id")["st_worker_timestamp"].max()
    reactions = []
    for _, worker in segments.groupby("worker"):
        rows = worker.to_dict("records")
        for before, after in zip(rows, rows[1:]):
            if before["trial_id"] in last_report:
                reactions.append(after["start_unix"] - last_report[before["trial_id"]])
    n_workers = int(metadata["n_workers"])
    utilization = results["epoch_time_s"].sum() / (n_workers * results["st_tuner_time"].max())
    return {
        "startup_s": round(statistics.median(startups), 3) if startups else None,
        "reaction_s": round(statistics.median(reactions), 3) if reactions else None,
        "utilization": round(float(utilization), 4),
        "trials": int(results["trial_id"].nunique()),
    }


def sim_speedup(budget: float = 3600.0) -> float | str:
    """Simulated seconds per real second of a simulated 4-worker ASHA run."""
    from experiments.backends.simulated import NoTable, recorded_table
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    try:
        recorded_table("fashion_mnist_lenet")
    except NoTable:
        return "n/a (no recorded table)"
    with tempfile.TemporaryDirectory() as results_dir:
        plan = make_plan(RunRequest(backend="simulated", workers=4, budget_s=budget,
                                    results_dir=Path(results_dir)))
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            run_plan(plan)
        return round(budget / (time.perf_counter() - started), 1)


def peak_rss_mb(data_file: str) -> float:
    """Peak RSS of one standalone LeNet trial process (1 epoch), as the process reports it."""
    completed = subprocess.run([sys.executable, "-c", (
        "import resource; from objectives import TrialRun, load_objective as l; "
        f"l('fashion_mnist_lenet').train({{'learning_rate': 0.1, 'batch_size': 128}}, "
        f"TrialRun(report=lambda **m: None, max_resource=1, checkpoint_dir=None, "
        f"data={data_file!r}, threads=1, seed=0)); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")],
        check=True, cwd=REPO, capture_output=True, text=True)
    return round(int(completed.stdout.split()[-1]) / 1024, 1)


# ---------------------------------------------------------------------------------------------


def measure(args) -> dict:
    from objectives import load_objective

    cores = os.cpu_count() or 1
    threads = max(1, cores // 2)  # two trials at once, as the launcher splits the cores
    objective = load_objective("fashion_mnist_lenet")
    data_file = objective.prepare_data(None, False)
    from objectives.fashion_mnist_lenet import CLASSIFIER

    n_train = len(CLASSIFIER.load_splits(data_file).train_x)
    progress = (lambda text: print(text, file=sys.stderr, flush=True))

    progress("epoch time: reference pipeline, two trials at once ...")
    with tempfile.TemporaryDirectory() as root:
        torchvision_layout(Path(root))
        reference = two_trials_at_once("reference", root, threads)
    progress("epoch time: suite objective, two trials at once ...")
    suite = two_trials_at_once("suite", data_file, threads)
    flops = epoch_flops(n_train)
    gemm = gemm_rate(threads)
    figures = {
        "epoch_reference_s": round(statistics.mean(reference), 3),
        "epoch_suite_s": round(statistics.mean(suite), 3),
        "epoch_speedup": round(statistics.mean(reference) / statistics.mean(suite), 2),
        "epoch_gflop": round(flops / 1e9, 1),
        "gemm_gflops": round(gemm / 1e9, 1),
        "flop_efficiency": round(flops / statistics.mean(suite) / gemm, 3),
        "threads_per_trial": threads,
    }
    with tempfile.TemporaryDirectory() as results_dir:
        for backend in args.backends.split(","):
            progress(f"tuning run: 2-worker ASHA, {args.budget:g} s, backend {backend} ...")
            with contextlib.redirect_stdout(sys.stderr):  # the tuner's progress is not the result
                experiment = tuning_run(backend, args.budget, Path(results_dir))
            run = tuning_figures(experiment)
            suffix = "" if backend == args.backends.split(",")[0] else f"_{backend}"
            figures.update({f"{key}{suffix}": value for key, value in run.items()})
            figures[f"backend{suffix}"] = backend
    figures["sim_speedup"] = sim_speedup()
    figures["peak_rss_mb"] = peak_rss_mb(data_file)
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds of each tuning run (default %(default)s)")
    parser.add_argument("--backends", default="warm,python",
                        help="backends whose tuning runs are measured, first one headlines")
    parser.add_argument("--quick", action="store_true", help="30 s tuning runs")
    parser.add_argument("--measure", choices=["reference", "suite"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # one epoch measurement, in its own process
        seconds = (reference_epoch if args.measure == "reference" else suite_epoch)(args.threads, args.arg)
        print(json.dumps({"seconds": seconds}))
        return
    if args.quick:
        args.budget = 30.0
    figures = measure(args)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(map(len, figures))
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
