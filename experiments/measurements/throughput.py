"""What `experiments/bench.py` measures, as functions: epoch times of the reference pipeline
and the suite's, FLOPs and the GEMM rate, figures of a real tuning run, and the memory of the
warm backend's processes while a tuning run is under way.

Repeated measurements are summarised by `spread` (median, min, max, repeats); ratios are taken
per alternating round (`paired_ratios`), so that a slow stretch of a shared machine slows both
sides of one ratio rather than one side of all of them.

Epoch times are measured in fresh processes, two at once (as two trials run on a 2-worker
launcher):  python -m experiments.measurements.throughput PIPELINE --threads N --arg PATH [--epochs E]
prints one JSON line {"seconds": first epoch's training time, "validation_error": after the
last epoch (suite pipeline only)}.
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
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

BATCH_SIZE = 128
LEARNING_RATE = 0.1
REPO = Path(__file__).resolve().parent.parent
MB = 1024  # /proc reports kB


# ---------------------------------------------------------------------------------------------
# Summaries of repeated measurements
# ---------------------------------------------------------------------------------------------


def spread(values: Iterable[float], digits: int = 3) -> dict:
    """{median, min, max, repeats} of repeated measurements."""
    values = list(values)
    if not values:
        raise ValueError("spread of no values")
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "repeats": len(values)}


def paired_ratios(numerators: Iterable[float], denominators: Iterable[float]) -> list[float]:
    """numerator / denominator of each round: the ratios whose spread is reported."""
    numerators, denominators = list(numerators), list(denominators)
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators against {len(denominators)} denominators")
    return [n / d for n, d in zip(numerators, denominators)]


def describe(value, nested: bool = False) -> str:
    """A figure for the human table: spreads as 'median [min, max] (n repeats)'."""
    if isinstance(value, dict) and set(value) == {"median", "min", "max", "repeats"}:
        return f"{value['median']:g} [{value['min']:g}, {value['max']:g}] ({value['repeats']} repeats)"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={describe(v, True)}" for k, v in value.items())
        return f"{{{text}}}" if nested else text
    if isinstance(value, list):
        return "[" + ", ".join(describe(v, True) for v in value) + "]"
    return str(value)


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
    # d2l's 4 loader workers on a machine with fewer cores are the reference's point, not news
    warnings.filterwarnings("ignore", message="This DataLoader will create")
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


def suite_epochs(threads: int, data_file: str, epochs: int = 1,
                 learning_rate: float = LEARNING_RATE) -> tuple[float, float]:
    """The suite's objective for `epochs` epochs (seed 0, batch 128), in the precision
    $HPO_PRECISION selects: (first epoch's training time, last validation error)."""
    from objectives import TrialRun, load_objective

    reports = []
    load_objective("fashion_mnist_lenet").train(
        {"learning_rate": learning_rate, "batch_size": BATCH_SIZE},
        TrialRun(report=lambda **metrics: reports.append(metrics), max_resource=epochs,
                 checkpoint_dir=None, data=data_file, threads=threads, seed=0))
    return reports[0]["train_time_s"], reports[-1]["validation_error"]


def torchvision_layout(root: Path) -> None:
    """torchvision's FashionMNIST wants the uncompressed files under root/FashionMNIST/raw."""
    from objectives.data import FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_FILES

    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ.get("FASHION_MNIST_DIR", FASHION_MNIST_DEBIAN_DIR))
    for stem in FASHION_MNIST_FILES.values():
        with gzip.open(source / f"{stem}.gz") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)


@dataclass(frozen=True)
class Pipeline:
    """One kind of epoch measurement: which code, its argument, and its environment."""

    name: str
    kind: str  # "reference" or "suite"
    arg: str  # the reference's torchvision root, or the suite's data file
    env: dict = field(default_factory=dict)  # e.g. {"HPO_PRECISION": "fp32"}
    epochs: int = 1
    learning_rate: float = LEARNING_RATE


def measure_in_process(pipeline: Pipeline, threads: int, timeout: float = 600) -> subprocess.Popen:
    command = [sys.executable, "-m", "experiments.measurements.throughput", pipeline.kind, "--threads",
               str(threads), "--arg", pipeline.arg, "--epochs", str(pipeline.epochs),
               "--learning-rate", str(pipeline.learning_rate)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, **pipeline.env})


def run_at_once(pipelines: list[Pipeline], threads: int) -> list[dict]:
    """Run the pipelines concurrently, one process each; what each process reported."""
    processes = [measure_in_process(p, threads) for p in pipelines]
    outcomes = []
    for pipeline, process in zip(pipelines, processes):
        out, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"{pipeline.name} epoch measurement failed (exit {process.returncode})")
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    return outcomes


def two_trials_at_once(pipeline: Pipeline, threads: int) -> float:
    """Mean epoch time of two concurrent measurements of the same pipeline."""
    return statistics.mean(o["seconds"] for o in run_at_once([pipeline, pipeline], threads))


def alternate(pipelines: list[Pipeline], repeats: int, threads: int,
              progress=lambda text: None) -> dict[str, list[float]]:
    """Epoch times measured in rounds, each round every pipeline in turn (A, B, A, B, ...), each
    measurement two trials at once: {pipeline name: one time per round}."""
    times: dict[str, list[float]] = {p.name: [] for p in pipelines}
    for round_ in range(1, repeats + 1):
        for pipeline in pipelines:
            progress(f"epoch time, round {round_}/{repeats}: {pipeline.name}, two trials at once ...")
            times[pipeline.name].append(two_trials_at_once(pipeline, threads))
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


def tuning_run(backend: str, budget: float, results_dir: Path, workers: int = 2) -> Path:
    """A real ASHA run (grace period 1) in this process; its experiment folder."""
    from experiments.tuning.plan import RunRequest, make_plan
    from experiments.tuning.run import run_plan

    return run_plan(make_plan(RunRequest(
        workers=workers, budget_s=budget, grace_period=1, backend=backend,
        results_dir=results_dir, experiment_name=f"bench-{backend}-{workers}w")))


def tuning_figures(experiment: Path) -> dict:
    import pandas as pd

    from analysis import experiment_folder as folder

    results = pd.read_csv(experiment / folder.RESULTS_FILE)
    metadata = folder.read_metadata(experiment)
    segments = pd.DataFrame(metadata[folder.TRIAL_TIMELINE]).sort_values("start_s")
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
    n_workers = int(metadata[folder.N_WORKERS])
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


# ---------------------------------------------------------------------------------------------
# Memory: resident set sizes of processes, from /proc
# ---------------------------------------------------------------------------------------------


def smaps_rollup(pid: int) -> dict[str, int]:
    """A process's memory totals in kB from /proc/PID/smaps_rollup (Rss, Pss, Shared_Clean,
    Shared_Dirty, Private_Clean, Private_Dirty, Anonymous, Swap, ...). PSS, the proportional
    set size, counts each page shared by k processes as 1/k in each, so the PSS of a group of
    processes sums to the memory the group occupies."""
    totals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                totals[parts[0].rstrip(":")] = int(parts[1])
    return totals


def pss_kb(pid: int) -> int:
    return smaps_rollup(pid)["Pss"]


def private_kb(totals: dict[str, int]) -> int:
    """Memory only this process maps: what it adds beside the processes it shares pages with."""
    return totals["Private_Clean"] + totals["Private_Dirty"]


def anon_pss_kb(totals: dict[str, int]) -> int:
    """The PSS of a process's anonymous and shared-memory pages: its heap, tensors and the pages
    it shares with the process it was forked from. Unlike file-backed pages (the shared
    libraries), no process outside the fork tree shares them, so other programs running torch
    on the machine do not move it. (Kernels before 5.x lack the fields: then all of Pss.)"""
    if "Pss_Anon" not in totals:
        return totals["Pss"]
    return totals["Pss_Anon"] + totals.get("Pss_Shmem", 0)


def largest_private_mappings(pid: int, top: int = 5) -> list[dict]:
    """The mappings holding most of a process's private memory (0.1 MB or more), from
    /proc/PID/smaps, summed by what is mapped (a file, [heap], or [anon] for anonymous memory
    such as tensors and allocator arenas): [{mapping, private_mb}] largest first."""
    private: dict[str, int] = {}
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(maxsplit=1)[0]
            if not first.endswith(":"):  # a mapping's header: range perms offset dev inode [path]
                fields = line.split(maxsplit=5)
                name = fields[5].strip() if len(fields) > 5 else "[anon]"
            elif first in ("Private_Clean:", "Private_Dirty:"):
                private[name] = private.get(name, 0) + int(line.split()[1])
    largest = sorted(((m, kb) for m, kb in private.items() if kb >= MB // 10), key=lambda item: -item[1])
    return [{"mapping": mapping, "private_mb": round(kb / MB, 1)} for mapping, kb in largest[:top]]


@dataclass
class TreeSample:
    """The warm backend's processes at one instant (kB)."""

    forkserver: dict[str, int]
    trials: dict[int, dict[str, int]]  # pid -> smaps_rollup

    def warm_pss(self, kind: str = "Pss") -> int:
        """The forkserver's and the trials' PSS: the memory the warm backend's processes occupy
        (the launcher is left out: it grows by itself as a run goes on); kind="anon": of their
        anonymous pages only."""
        share = anon_pss_kb if kind == "anon" else (lambda totals: totals["Pss"])
        return share(self.forkserver) + sum(share(t) for t in self.trials.values())


def find_forkserver(launcher):
    """The launcher's child running multiprocessing's forkserver, or None."""
    import psutil

    for child in launcher.children():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if any("forkserver" in part for part in child.cmdline()):
                return child
    return None


class WarmTreeSampler:
    """Samples, every `period` seconds in a thread, the smaps_rollup of a launcher process's
    forkserver child (the warm backend's) and the forkserver's children (the trials); keeps the
    detailed private mappings of the largest trial seen (read at most every `detail_every` s)."""

    def __init__(self, launcher_pid: int | None = None, period: float = 0.5,
                 detail_every: float = 5.0):
        self.launcher_pid = launcher_pid or os.getpid()
        self.period = period
        self.detail_every = detail_every
        self.samples: list[TreeSample] = []
        self.largest_trial: dict | None = None  # {"rollup", "mappings"} of the largest trial
        self._last_detail = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warm-tree-sampler", daemon=True)

    def __enter__(self) -> "WarmTreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def sample(self) -> TreeSample | None:
        """One sample; None where there is no forkserver yet or a process ended mid-read (a
        sample that misses a process would understate the total)."""
        import psutil

        try:
            launcher = psutil.Process(self.launcher_pid)
            forkserver = find_forkserver(launcher)
            if forkserver is None:
                return None
            trials = forkserver.children()
            sample = TreeSample(forkserver=smaps_rollup(forkserver.pid),
                                trials={t.pid: smaps_rollup(t.pid) for t in trials})
            self._maybe_detail(sample)
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        self.samples.append(sample)
        return sample

    def _maybe_detail(self, sample: TreeSample) -> None:
        if not sample.trials or time.monotonic() - self._last_detail < self.detail_every:
            return
        pid, rollup = max(sample.trials.items(), key=lambda item: private_kb(item[1]))
        if self.largest_trial is None or private_kb(rollup) > private_kb(self.largest_trial["rollup"]):
            self.largest_trial = {"rollup": rollup, "mappings": largest_private_mappings(pid)}
        self._last_detail = time.monotonic()

    def with_trials(self, n: int) -> list[TreeSample]:
        """The samples taken while exactly n trials ran (the run's steady state)."""
        return [s for s in self.samples if len(s.trials) == n]


def memory_at(sampler: WarmTreeSampler, workers: int) -> dict:
    """Medians over the samples with every worker's trial running (MB)."""
    samples = sampler.with_trials(workers)
    if not samples:
        return {}
    trials = [t for s in samples for t in s.trials.values()]

    def median_mb(values_kb) -> float:
        return round(statistics.median(values_kb) / MB, 1)

    return {
        "samples": len(samples),
        "warm_pss_mb": median_mb(s.warm_pss() for s in samples),
        "warm_anon_pss_mb": median_mb(s.warm_pss("anon") for s in samples),
        "forkserver_pss_mb": median_mb(s.forkserver["Pss"] for s in samples),
        "forkserver_anon_pss_mb": median_mb(anon_pss_kb(s.forkserver) for s in samples),
        "forkserver_rss_mb": median_mb(s.forkserver["Rss"] for s in samples),
        "trial_pss_mb": spread((t["Pss"] / MB for t in trials), 1),
        "trial_file_pss_mb": spread(((t["Pss"] - anon_pss_kb(t)) / MB for t in trials), 1),
        "trial_private_mb": spread((private_kb(t) / MB for t in trials), 1),
        "trial_rss_mb": spread((t["Rss"] / MB for t in trials), 1),
    }


def added_per_trial(total_low: float, workers_low: int, total_high: float, workers_high: int) -> float:
    """Memory one more trial adds: the difference of the total PSS of the processes over the
    difference in trials."""
    return (total_high - total_low) / (workers_high - workers_low)


def trial_breakdown(largest_trial: dict | None) -> dict | None:
    """Where a trial's memory is: its smaps_rollup (MB) and its largest private mappings."""
    if largest_trial is None:
        return None
    rollup = largest_trial["rollup"]
    keys = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Anonymous")
    return {**{key.lower() + "_mb": round(rollup[key] / MB, 1) for key in keys if key in rollup},
            "largest_private": largest_trial["mappings"]}


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


def measure_one(argv=None) -> None:
    """One epoch measurement in this process (see the module's docstring)."""
    parser = argparse.ArgumentParser(description="one epoch measurement (used by bench.py)")
    parser.add_argument("kind", choices=["reference", "suite"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arg", required=True, help="torchvision root, or the suite's data file")
    parser.add_argument("--epochs", type=int, default=1, help="suite only")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE, help="suite only")
    args = parser.parse_args(argv)
    if args.kind == "reference":
        print(json.dumps({"seconds": reference_epoch(args.threads, args.arg)}))
    else:
        seconds, error = suite_epochs(args.threads, args.arg, args.epochs, args.learning_rate)
        print(json.dumps({"seconds": seconds, "validation_error": error}))


if __name__ == "__main__":
    measure_one()
