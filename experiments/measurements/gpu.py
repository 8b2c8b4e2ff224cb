"""How well trials share a GPU: short ASHA runs on every visible GPU with K trials per GPU.

A LeNet or the CIFAR CNN uses a sliver of a modern GPU, so one trial per GPU leaves it mostly
idle. For each K, a run with workers = GPUs x K measures trials started per minute, the median
epoch time, the GPU memory each trial's process holds (nvidia-smi, CUDA context included) and
its tensors' peak (torch), and how busy the GPUs were.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from experiments.tuning.plan import RunRequest, make_plan
from experiments.tuning.run import run_plan
from objectives.usage import UsageError


@dataclass
class GpuSampler:
    """Samples nvidia-smi every `period_s` while a run goes on: memory per process, utilization."""

    period_s: float = 1.0
    process_memory_mb: list[list[float]] = field(default_factory=list)  # per sample: each process
    utilization: list[float] = field(default_factory=list)  # per sample: mean over GPUs, %
    memory_used_mb: list[float] = field(default_factory=list)  # per sample: summed over GPUs
    _stop: threading.Event = field(default_factory=threading.Event)

    def _query(self, what: str) -> list[list[str]]:
        out = subprocess.run(["nvidia-smi", f"--query-{what}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
        return [[x.strip() for x in line.split(",")] for line in out.strip().splitlines() if line.strip()]

    def _loop(self):
        while not self._stop.is_set():
            try:
                apps = self._query("compute-apps=pid,used_memory")
                gpus = self._query("gpu=utilization.gpu,memory.used")
            except (OSError, subprocess.SubprocessError):
                return
            self.process_memory_mb.append([float(used) for _, used in apps])
            if gpus:
                self.utilization.append(statistics.mean(float(u) for u, _ in gpus))
                self.memory_used_mb.append(sum(float(m) for _, m in gpus))
            self._stop.wait(self.period_s)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=15)


def sharing_run(trials_per_gpu: int, budget_s: float, results_dir: Path, objective: str,
                smoke: bool) -> dict:
    plan = make_plan(RunRequest(objective=objective, trials_per_gpu=trials_per_gpu, budget_s=budget_s,
                                results_dir=results_dir, smoke=smoke, grace_period=1,
                                experiment_name=f"gpu-check-k{trials_per_gpu}"))
    if not plan.n_gpus:
        raise UsageError("no GPU is visible (torch.cuda.device_count() is 0): the GPU check needs one")
    with GpuSampler() as sampler:
        experiment = run_plan(plan)
    results = pd.read_csv(experiment / "results.csv.zip")
    memory = [m for sample in sampler.process_memory_mb for m in sample]
    return {
        "trials_per_gpu": trials_per_gpu,
        "gpus": plan.n_gpus,
        "workers": plan.n_workers,
        "trials": int(results["trial_id"].nunique()),
        "trials_per_minute": round(results["trial_id"].nunique() / (budget_s / 60), 1),
        "epochs": len(results),
        "epochs_per_minute": round(len(results) / (budget_s / 60), 1),
        "median_epoch_s": round(float(results["epoch_time_s"].median()), 3),
        "gpu_memory_per_trial_mb": round(statistics.median(memory), 0) if memory else None,
        # where a container hides other processes from nvidia-smi: the busiest moment's memory
        # over the trials that can run at once
        "gpu_memory_used_max_mb": max(sampler.memory_used_mb, default=None),
        "gpu_memory_used_max_per_worker_mb": round(max(sampler.memory_used_mb) / plan.n_workers, 0)
        if sampler.memory_used_mb else None,
        "tensor_peak_per_trial_mb": round(float(results["gpu_memory_mb"].median()), 1)
        if "gpu_memory_mb" in results else None,
        "gpu_utilization_pct": round(statistics.mean(sampler.utilization), 1) if sampler.utilization else None,
        "experiment": str(experiment),
    }
