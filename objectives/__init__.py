"""What is tuned: training jobs that report a metric after every unit of resource.

An objective is an `Objective` (see `objectives.objective`): a search space, a maximum
resource and a `train` function. The built-in ones are named in `BUILTIN_OBJECTIVES`; any other
is named by where it lives, `package.module:attribute` or `path/to/file.py:attribute`.
`load_objective` imports one on demand, so `analysis` never pays for importing torch.
"""

from __future__ import annotations

import inspect

from objectives.locate import import_attribute
from objectives.objective import Objective, TrialRun
from objectives.usage import UsageError

__all__ = ["Objective", "TrialRun", "BUILTIN_OBJECTIVES", "load_objective", "UnknownObjective"]

BUILTIN_OBJECTIVES = {
    "fashion_mnist_lenet": "objectives.fashion_mnist_lenet:OBJECTIVE",
    "cifar10_cnn": "objectives.cifar10_cnn:OBJECTIVE",
}


class UnknownObjective(UsageError):
    """The objective cannot be found or is not an Objective; the message says what to pass."""


def load_objective(spec: str) -> Objective:
    """The objective named by `spec`: a built-in name, `module:attribute` or `file.py:attribute`
    (an `Objective`, or a function without arguments returning one), or Syne Tune code as
    `objectives.syne_tune_code.SyneTuneCode.spec` writes it (a script or a tune function)."""
    from objectives.syne_tune_code import SyneTuneCode, is_code_spec, objective_of

    if is_code_spec(spec):
        return objective_of(SyneTuneCode.from_spec(spec))
    if spec in BUILTIN_OBJECTIVES:
        spec = BUILTIN_OBJECTIVES[spec]
    elif ":" not in spec:
        raise UnknownObjective(
            f"unknown objective {spec!r}: choose one of {', '.join(BUILTIN_OBJECTIVES)}, or name "
            f"your own as package.module:attribute or path/to/file.py:attribute")
    found = import_attribute(spec, flag="--objective", error=UnknownObjective)
    if isinstance(found, Objective):
        return found
    if callable(found) and not required_parameters(found):
        found = found()
        if isinstance(found, Objective):
            return found
    raise UnknownObjective(
        f"--objective {spec}: {describe(found)}; --objective takes an objectives.Objective, a "
        f"function without arguments returning one, or, with --config-space FILE.py:NAME, a Syne "
        f"Tune tune function (its hyperparameters as keyword arguments, reporting through a Reporter)")


def required_parameters(function) -> list[str]:
    """The parameters a call must give `function` (none for a factory of an Objective)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature Python can read
        return []
    return [p.name for p in parameters
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def describe(found) -> str:
    if callable(found) and required_parameters(found):
        return (f"{getattr(found, '__name__', 'it')}({', '.join(required_parameters(found))}) takes "
                f"arguments, as a tune function does: pass its config space with --config-space")
    return f"{type(found).__name__} is not an objectives.Objective"
