"""What a machine offers the trials: CPUs this process may use, GPUs, and how they are shared.

CPUs are counted with `os.sched_getaffinity`, not `os.cpu_count`: a container, a SLURM job or
`taskset` may give this process fewer CPUs than the machine has, and splitting all of the
machine's cores among the trials would oversubscribe the ones it has.
"""

from __future__ import annotations

import os

# Without GPUs, this many workers at least: with one worker, asynchronous and synchronous
# scheduling cannot differ (nothing runs beside the trial that decides).
MIN_CPU_WORKERS = 2


def cpus_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def count_gpus() -> int:
    """GPUs this process may use (torch honours CUDA_VISIBLE_DEVICES)."""
    import torch

    return torch.cuda.device_count()


def default_workers(n_gpus: int, trials_per_gpu: int, cpus: int) -> int:
    """One worker per GPU (times the trials sharing each); without GPUs, one per 2 CPUs and at
    least MIN_CPU_WORKERS, so that asynchronous scheduling has something to gain."""
    if n_gpus:
        return n_gpus * trials_per_gpu
    return max(MIN_CPU_WORKERS, cpus // 2)


def threads_per_trial(n_workers: int, cpus: int, n_gpus: int, requested: int | None) -> int:
    """CPU threads for each trial: as asked; 1 on GPUs (the GPU computes); otherwise the CPUs
    split evenly among the workers, so the machine is neither idle nor oversubscribed."""
    if requested is not None:
        return requested
    if n_gpus:
        return 1
    return max(1, cpus // n_workers)
