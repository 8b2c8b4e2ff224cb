"""Imported once by the warm backend's forkserver: everything a trial needs, loaded ahead.

Forked trials inherit this process's memory, so they start with the objective imported (with
torch, for the objectives that compute with it) and the data set decoded (the objective's
`preload`; image classifiers memoise their splits). Torch must not start worker threads here:
a thread pool does not survive a fork, so this process computes on one thread and each trial
sets its own thread count. An objective that does not import torch (scikit-learn, a toy) does
not pay for importing it, here or in its trials.
"""

import json
import os
import sys

from syne_tune import Reporter  # noqa: F401  (imported for the forked trials)

import objectives.trial  # noqa: F401  (imported for the forked trials)
from objectives import load_objective

_spec = os.environ.get("HPO_WARM_PRELOAD")
_preload = json.loads(_spec) if _spec else None
_objective = load_objective(_preload["objective"]) if _preload else None

if "torch" in sys.modules:  # the objective computes with torch
    import torch

    torch.set_num_threads(1)
    # The first optimiser a process builds imports much of torch lazily (about 1 s here).
    torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)

if _objective is not None and _objective.preload is not None:
    _objective.preload(_preload["data"])
