"""Imported once by the warm backend's forkserver: everything a trial needs, loaded ahead.

Forked trials inherit this process's memory, so they start with torch imported and the data
set decoded (`objectives.data.load_splits` memoises it). Torch must not start worker threads
here: a thread pool does not survive a fork, so this process computes on one thread and each
trial sets its own thread count.
"""

import os

import torch

import objectives
import objectives.training  # noqa: F401  (imported for the forked trials)
from syne_tune import Reporter  # noqa: F401

torch.set_num_threads(1)
# The first optimiser a process builds imports much of torch lazily (about 1 s here).
torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)

_spec = os.environ.get("HPO_WARM_PRELOAD")
if _spec:
    _name, _data_file = _spec.split("=", 1)
    objectives.load_objective(_name).load_splits(_data_file)
