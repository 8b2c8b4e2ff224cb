"""Many simulated runs at once: one process per core, each run planned and run in a worker.

A simulated run is a single-threaded loop (the tuner, the scheduler, the searcher's model), so
a study of thousands of runs uses every core by running that many at once. Workers keep the
blackboxes they build (one per benchmark and process), compute with one torch thread, and
print nothing; a run that fails is reported and the others go on.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from experiments.tuning.plan import RunRequest


@dataclass(frozen=True)
class Outcome:
    request: RunRequest
    experiment_dir: Path | None
    seconds: float  # the run's own compute time (its worker's clock)
    error: str | None = None


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # as many runs as cores: one thread each


def run_one(request: RunRequest) -> Outcome:
    from experiments.tuning.plan import make_plan
    from experiments.tuning.run import run_plan

    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            experiment_dir = run_plan(make_plan(request))
    except Exception as error:  # noqa: BLE001 - reported with the run it ended; the others go on
        return Outcome(request, None, time.perf_counter() - started, f"{type(error).__name__}: {error}")
    return Outcome(request, experiment_dir, time.perf_counter() - started)


def default_jobs() -> int:
    from experiments.tuning.resources import cpus_available

    return cpus_available()


@contextlib.contextmanager
def fixed_string_hashing():
    """Processes started inside hash strings the same way (PYTHONHASHSEED=0), so that each run
    repeats exactly from its seed: SMAC's choices depend on Python's string hashing (two
    processes running one seed of smac_hyperband diverged; with the hash seed fixed they agree),
    which Python otherwise draws anew in each process."""
    before = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = before


def run_many(requests: Iterable[RunRequest], jobs: int,
             progress: Callable[[int, int, Outcome], None] | None = None) -> list[Outcome]:
    """Run every request, `jobs` at a time (1: in this process), in the order given (put the
    costly ones first: the last runs then finish together). `progress(done, total, outcome)`
    after each."""
    requests = list(requests)
    outcomes = []
    if jobs <= 1:
        _init_worker()
        for request in requests:
            outcomes.append(run_one(request))
            if progress:
                progress(len(outcomes), len(requests), outcomes[-1])
        return outcomes
    # spawn: fresh interpreters, not forks of a process whose torch threads are running
    context = multiprocessing.get_context("spawn")
    with fixed_string_hashing(), ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                     initializer=_init_worker) as pool:
        futures = [pool.submit(run_one, request) for request in requests]
        try:
            for future in as_completed(futures):
                outcomes.append(future.result())
                if progress:
                    progress(len(outcomes), len(requests), outcomes[-1])
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
    return outcomes


class ProgressLine:
    """For run_many's `progress`: a line on stderr every 30 s and at the end (done, failed,
    elapsed, an estimate of what is left); each failure on its own line."""

    def __init__(self, every_s: float = 30.0):
        self.started = self.last = time.monotonic()
        self.every_s = every_s
        self.failed = 0

    def __call__(self, done: int, total: int, outcome: Outcome) -> None:
        if outcome.error:
            self.failed += 1
            print(f"  run {outcome.request.experiment_name} failed: {outcome.error}", file=sys.stderr, flush=True)
        now = time.monotonic()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.started
        print(f"  [{elapsed / 60:5.1f} min] {done}/{total} runs"
              + (f", {self.failed} failed" if self.failed else "")
              + (f", about {elapsed / done * (total - done) / 60:.1f} min left" if done < total else ""),
              file=sys.stderr, flush=True)
