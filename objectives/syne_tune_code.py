"""Syne Tune code, unchanged, as an objective: a training script or a tune function.

Syne Tune's examples and tutorials come in two forms, and the suite tunes both as they are:

- a training script, as `LocalBackend(entry_point="train.py")` runs it: one flag per entry of
  the config space (hyperparameters and constants), `--st_checkpoint_dir`, and
  `syne_tune.Reporter()` called after each epoch;
- a tune function, as `PythonBackend(tune_function=f, config_space=...)` calls it: one keyword
  argument per entry of the config space, reporting through its own `Reporter`.

`SyneTuneCode` names either, with the config space and the names Syne Tune's schedulers are
given (metric, mode, resource and max-resource attributes); `objective_of` makes it an
`Objective` whose `train` runs the code as Syne Tune would and relays each of its reports to the
suite. The config space's constants go to the code, never to the schedulers, so that results and
`best_config()` hold the hyperparameters only. The max-resource constant is set for each run to
the level the scheduler allows (below the maximum where synchronous SH ends a run at its rung);
code that trains past it is stopped and its trial fails, naming the flag it ignored.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from objectives.locate import import_attribute
from objectives.objective import Objective, TrialRun
from objectives.processes import die_with_parent
from objectives.trial import ReportWithoutMetric
from objectives.usage import UsageError

CHECKPOINT_ARGUMENT = "st_checkpoint_dir"  # Syne Tune's name for the checkpoint folder argument


class SyneTuneCodeError(UsageError):
    """The script, function or config space cannot be used; the message says what to change."""


class CodeFailed(RuntimeError):
    """The code of one trial failed (its trial fails; the run goes on)."""


@dataclass(frozen=True)
class SyneTuneCode:
    """A Syne Tune training script (`entry_point`) or tune function (`function`, as
    `file.py:name` or `module:name`), with its config space (`file.py:NAME` or `module:NAME`)
    and the names Syne Tune's schedulers would be given."""

    config_space: str
    max_resource_attr: str
    metric: str = "validation_error"
    mode: str = "min"
    resource_attr: str = "epoch"
    entry_point: str | None = None
    function: str | None = None

    def __post_init__(self):
        if (self.entry_point is None) == (self.function is None):
            raise ValueError("SyneTuneCode takes an entry_point or a function, not both")

    @property
    def spec(self) -> str:
        """This code as `--objective` text (a JSON object), which every trial, resumed run and
        recorded table reads back with `from_spec`."""
        return json.dumps({name: value for name, value in asdict(self).items() if value is not None},
                          sort_keys=True)

    @classmethod
    def from_spec(cls, spec: str) -> "SyneTuneCode":
        return cls(**json.loads(spec))

    @property
    def target(self) -> str:
        return self.entry_point or self.function


def is_code_spec(spec: str) -> bool:
    return spec.lstrip().startswith("{")


def code_folders(spec: str) -> list[Path]:
    """The folders holding the files of Syne Tune code (its script's, its config space's, its
    tune function's, each given as a path), which a machine without them must receive; none for
    other objectives, nor for code named by module (importable on every machine, as the suite)."""
    if not is_code_spec(spec):
        return []
    code = SyneTuneCode.from_spec(spec)
    files = [code.entry_point] + [where.rpartition(":")[0] for where in (code.config_space, code.function or "")]
    return sorted({Path(f).parent for f in files if f and f.endswith(".py")})


def objective_name(target: str) -> str:
    """A name for experiment names: the script's or the function's, in the characters they allow."""
    stem = target.rpartition(":")[2] if target.rpartition(":")[0] else Path(target).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "code"


def load_config_space(where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config space named by `where`, split into its hyperparameters (Syne Tune domains)
    and its constants."""
    from syne_tune.config_space import Domain

    space = import_attribute(where, flag="--config-space", error=SyneTuneCodeError)
    if not isinstance(space, dict):
        raise SyneTuneCodeError(f"--config-space {where}: {type(space).__name__} is not a config space "
                                f"(a dict of syne_tune.config_space domains and constants)")
    hyperparameters = {name: value for name, value in space.items() if isinstance(value, Domain)}
    if not hyperparameters:
        raise SyneTuneCodeError(f"--config-space {where}: no hyperparameter (no syne_tune.config_space "
                                f"domain such as loguniform(1e-3, 1) among its values): nothing to tune")
    constants = {name: value for name, value in space.items() if name not in hyperparameters}
    return hyperparameters, constants


def max_resource_of(code: SyneTuneCode, constants: dict[str, Any]) -> int:
    """The maximum resource: the config space's constant named by --max-resource-attr."""
    value = constants.get(code.max_resource_attr)
    candidates = [name for name, v in constants.items() if isinstance(v, int) and not isinstance(v, bool)]
    if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 1:
        found = (f"holds {value!r}" if code.max_resource_attr in constants
                 else "has no such entry")
        raise SyneTuneCodeError(
            f"--max-resource-attr {code.max_resource_attr}: the config space {code.config_space} {found}; "
            f"it names the constant holding the maximum resource (a positive integer, such as "
            f"\"max_epochs\": 10), which the code is passed to know how far to train"
            + (f" (its integer constants: {', '.join(candidates)})" if candidates else ""))
    return value


def objective_of(code: SyneTuneCode) -> Objective:
    """The `Objective` that runs `code` as Syne Tune would; SyneTuneCodeError for what cannot
    work, found before anything runs."""
    if code.mode not in ("min", "max"):
        raise SyneTuneCodeError(f"--mode {code.mode}: choose min or max")
    hyperparameters, constants = load_config_space(code.config_space)
    max_resource = max_resource_of(code, constants)
    if code.entry_point is not None:
        script = Path(code.entry_point)
        if not script.is_file():
            raise SyneTuneCodeError(f"--entry-point {code.entry_point}: no such file")
        train = ScriptTrainer(code, constants)
    else:
        function = import_attribute(code.function, flag="--objective", error=SyneTuneCodeError)
        check_tune_function(code.function, function, {**hyperparameters, **constants})
        train = FunctionTrainer(code, constants, function)
    return Objective(
        name=objective_name(code.target), search_space=hyperparameters, max_resource=max_resource,
        train=train, metric=code.metric, mode=code.mode, resource_attr=code.resource_attr,
        description=f"Syne Tune {'script' if code.entry_point else 'tune function'} {code.target}",
    )


def check_tune_function(where: str, function: Any, config_space: dict[str, Any]) -> None:
    """PythonBackend calls a tune function with one keyword argument per entry of the config
    space: refuse one that cannot take them, naming what differs."""
    if not callable(function):
        raise SyneTuneCodeError(f"--objective {where}: {type(function).__name__} is not a function")
    parameters = inspect.signature(function).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    missing = [name for name in config_space if name not in parameters]
    unknown = [name for name, p in parameters.items()
               if p.default is p.empty and p.kind is not p.VAR_POSITIONAL
               and name not in config_space and name != CHECKPOINT_ARGUMENT]
    if missing or unknown:
        raise SyneTuneCodeError(
            f"--objective {where}: a tune function takes one keyword argument per entry of the config "
            f"space; " + "; ".join(part for part in (
                f"it does not take {', '.join(missing)}" if missing else "",
                f"the config space has no {', '.join(unknown)}" if unknown else "") if part))


def code_arguments(code: SyneTuneCode, constants: dict, config: dict, run: TrialRun) -> dict[str, Any]:
    """What Syne Tune would pass the code: every entry of the config space, the max-resource
    constant lowered to what this run may train."""
    return {**constants, **config, code.max_resource_attr: run.max_resource}


class ReportRelay:
    """Relays the code's `Reporter` lines to the suite's `report` (without Syne Tune's own `st_`
    fields, which the suite's reporter adds again), and refuses a report past the run's max
    resource. Everything else the code prints passes through to `out`."""

    def __init__(self, code: SyneTuneCode, run: TrialRun, out, on_overrun: Callable[[], None] = lambda: None):
        from syne_tune.report import retrieve

        self._retrieve, self.code, self.run, self.out, self.on_overrun = retrieve, code, run, out, on_overrun
        self.reports = 0

    def line(self, text: str) -> None:
        found = self._retrieve([text])
        if not found:
            self.out.write(text if text.endswith("\n") else text + "\n")
            return
        for report in found:
            metrics = {name: value for name, value in report.items() if not name.startswith("st_")}
            missing = [name for name in (self.code.metric, self.code.resource_attr) if name not in metrics]
            if missing:
                raise ReportWithoutMetric(
                    f"{Path(self.code.target).name} reported {', '.join(sorted(metrics)) or 'nothing'}, not "
                    f"{' and '.join(missing)}: pass the names it reports with --metric and --resource-attr")
            level = metrics.get(self.code.resource_attr)
            if isinstance(level, (int, float)) and level > self.run.max_resource:
                self.on_overrun()
                raise CodeFailed(
                    f"{Path(self.code.target).name} reported {self.code.resource_attr} {level:g} after being passed "
                    f"--{self.code.max_resource_attr} {self.run.max_resource}: it must stop training there "
                    f"(synchronous SH ends a run at its rung through that argument)")
            self.reports += 1
            self.run.report(**metrics)


class ScriptTrainer:
    """`train(config, run)` for a script: run it as `LocalBackend` does, one process per run."""

    def __init__(self, code: SyneTuneCode, constants: dict):
        self.code, self.constants = code, constants

    def command(self, config: dict, run: TrialRun) -> list[str]:
        words = [sys.executable, str(Path(self.code.entry_point).resolve())]
        for name, value in code_arguments(self.code, self.constants, config, run).items():
            words += [f"--{name}", str(value)]
        if run.checkpoint_dir is not None:
            words += [f"--{CHECKPOINT_ARGUMENT}", run.checkpoint_dir]
        return words

    def __call__(self, config: dict, run: TrialRun) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(run.threads)}
        process = subprocess.Popen(self.command(config, run), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env, preexec_fn=die_with_parent)
        last_error = []
        copier = threading.Thread(target=copy_stderr, args=(process.stderr, sys.stderr, last_error), daemon=True)
        copier.start()
        relay = ReportRelay(self.code, run, sys.stdout, on_overrun=process.kill)
        try:
            for text in process.stdout:
                relay.line(text)
        except BaseException:  # a report refused (or the trial stopped): the script ends with it
            process.kill()
            raise
        finally:
            code = process.wait()
            copier.join(timeout=5)
        if code != 0:
            why = f"killed by signal {-code}" if code < 0 else f"exited {code}"
            raise CodeFailed(f"{Path(self.code.entry_point).name} {why}"
                             + (f": {last_error[-1]}" if last_error else ""))


def copy_stderr(source, target, last: list) -> None:
    """Copy the script's stderr into the trial's, keeping its last non-empty line for the
    failure message."""
    for text in source:
        target.write(text)
        target.flush()
        if text.strip():
            last[:] = [text.strip()]


class FunctionTrainer:
    """`train(config, run)` for a tune function: call it as `PythonBackend` does, in the trial's
    process, with the folder for checkpoints where its signature asks for `st_checkpoint_dir`."""

    def __init__(self, code: SyneTuneCode, constants: dict, function: Callable):
        self.code, self.constants, self.function = code, constants, function
        self.takes_checkpoint_dir = CHECKPOINT_ARGUMENT in inspect.signature(function).parameters

    def __call__(self, config: dict, run: TrialRun) -> None:
        kwargs = code_arguments(self.code, self.constants, config, run)
        if self.takes_checkpoint_dir:
            kwargs[CHECKPOINT_ARGUMENT] = run.checkpoint_dir
        out = sys.stdout
        relay = ReportRelay(self.code, run, out)
        stream = LineStream(relay, out)
        with contextlib.redirect_stdout(stream):
            self.function(**kwargs)
        stream.end()


class LineStream(io.TextIOBase):
    """A text stream handing each complete line to `relay.line`, with `sys.stdout` back at
    `out` meanwhile (the suite's own reporter prints there)."""

    def __init__(self, relay: ReportRelay, out):
        self.relay, self.out, self.pending = relay, out, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            with contextlib.redirect_stdout(self.out):
                self.relay.line(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def end(self) -> None:
        """Hand over a last line printed without its newline."""
        if self.pending:
            text, self.pending = self.pending, ""
            self.relay.line(text)
