"""What is tuned: training jobs that report a metric after every unit of resource.

An objective is an `Objective` (see `objectives.objective`): a search space, a maximum
resource and a `train` function. The built-in ones are named in `BUILTIN_OBJECTIVES`; any other
is named by where it lives, `package.module:attribute` or `path/to/file.py:attribute`.
`load_objective` imports one on demand, so `analysis` never pays for importing torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from objectives.objective import Objective, TrialRun
from objectives.usage import UsageError

__all__ = ["Objective", "TrialRun", "BUILTIN_OBJECTIVES", "load_objective", "UnknownObjective"]

BUILTIN_OBJECTIVES = {
    "fashion_mnist_lenet": "objectives.fashion_mnist_lenet:OBJECTIVE",
    "cifar10_cnn": "objectives.cifar10_cnn:OBJECTIVE",
}


class UnknownObjective(UsageError):
    """The objective cannot be found or is not an Objective; the message says what to pass."""


def _import_attribute(spec: str):
    where, _, attribute = spec.rpartition(":")
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise UnknownObjective(f"--objective {spec}: no file {path}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules.setdefault(path.stem, module)
        module_spec.loader.exec_module(module)
    else:
        # a module of the current folder, as `python -m` would find it
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise UnknownObjective(f"--objective {spec}: cannot import {where} ({e}); run from the "
                                   f"folder that holds it, or install it") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UnknownObjective(f"--objective {spec}: {where} has no attribute {attribute!r}") from None


def load_objective(spec: str) -> Objective:
    """The objective named by `spec`: a built-in name, `module:attribute` or `file.py:attribute`
    (the attribute an `Objective`, or a function without arguments returning one)."""
    if spec in BUILTIN_OBJECTIVES:
        spec = BUILTIN_OBJECTIVES[spec]
    elif ":" not in spec:
        raise UnknownObjective(
            f"unknown objective {spec!r}: choose one of {', '.join(BUILTIN_OBJECTIVES)}, or name "
            f"your own as package.module:attribute or path/to/file.py:attribute")
    found = _import_attribute(spec)
    if callable(found) and not isinstance(found, Objective):
        found = found()
    if not isinstance(found, Objective):
        raise UnknownObjective(f"--objective {spec}: {type(found).__name__} is not an "
                               f"objectives.Objective")
    return found
