"""A Syne Tune trial backend whose trials run as Ray tasks on the nodes of a Ray cluster.

Syne Tune 0.16 runs trials on the local machine only. Here each run of a trial (its start, and
each resume after a pause) is one Ray task, which Ray places on any node with the CPUs or GPU
the trial asks for. The task calls the same trial function as the local backends. What it
prints (Syne Tune's `Reporter` lines, tracebacks) travels back through a small Ray actor and
is appended to the trial's `std.out` / `std.err` on the machine running the tuner, so all of
`LocalBackend`'s machinery (results, stop, pause, resume, the experiment folder) is reused
unchanged. Checkpoints go to a folder every node can read, since a resumed trial may land on
another node.

A stopped or paused trial is first told to stop inside its task, so that Ray can reuse its
warm worker process; only a trial that does not stop has its worker killed. A trial that no
live node can ever hold (it asks for more CPUs or GPUs than the largest node has) fails at
once with a message saying so, instead of waiting in Ray's queue forever.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import time
import traceback
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from syne_tune.backend import PythonBackend

from analysis.experiment_folder import checkpoint_folder
from experiments.backends.ray_cluster import ClusterInfo, TrialResources, connect, describe, import_ray
from experiments.backends.trial_folders import EndedTrial, prepare_trial_folder, without_live_trials
from experiments.compat.syne_tune import ProcessHooks
from objectives.data import SMOKE
from objectives.syne_tune_code import code_folders
from objectives.trial import TRIAL_SETTINGS_ENV, TrialSettings

# How often (seconds) the live nodes are looked up again to find trials that cannot be placed.
PLACEMENT_CHECK_S = 1.0
# Seconds a trial told to stop may take to notice before its worker process is killed. Being
# told gently (a KeyboardInterrupt inside the task) keeps the worker, with torch imported and
# the data loaded, for the next trial; and Ray's forced cancel, sent to a task that has just
# ended, can kill the worker Ray has already handed to the next trial.
FORCE_KILL_AFTER_S = 3.0


class TrialOutputs:
    """A Ray actor holding what trials printed until the tuner's backend collects it.

    Entries are (trial_id, attempt, kind, payload): kind "node" (payload: the node's id, sent
    when the task starts), "out" or "err" (payload: text).
    """

    def __init__(self):
        self.pending: list[tuple] = []

    def add(self, trial_id: int, attempt: int, kind: str, payload: str) -> None:
        self.pending.append((trial_id, attempt, kind, payload))

    def drain(self) -> list[tuple]:
        pending, self.pending = self.pending, []
        return pending


class ForwardedStream(io.TextIOBase):
    """A text stream whose complete lines go to the `TrialOutputs` actor."""

    def __init__(self, outputs, trial_id: int, attempt: int, kind: str):
        self.outputs, self.trial_id, self.attempt, self.kind = outputs, trial_id, attempt, kind
        self.buffer = ""
        self.last_call = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.buffer += text
        if "\n" in self.buffer:
            lines, _, self.buffer = self.buffer.rpartition("\n")
            self._send(lines + "\n")
        return len(text)

    def flush(self) -> None:
        pass  # lines go out as they complete; a partial line waits for its end or close()

    def _send(self, text: str) -> None:
        self.last_call = self.outputs.add.remote(self.trial_id, self.attempt, self.kind, text)

    def close(self) -> None:
        """Send what is left and wait until the actor holds every line."""
        import ray

        if self.buffer:
            self._send(self.buffer)
            self.buffer = ""
        if self.last_call is not None:
            ray.get(self.last_call)  # calls from one caller to an actor run in order
        super().close()


def ensure_data_file(data_file: str, data_box: list) -> None:
    """Write the decoded data set on a node that lacks it, from the copy in Ray's object store
    (`data_box` holds its reference, or is empty when every node shares the tuner's disk)."""
    if Path(data_file).exists():
        return
    if not data_box:
        raise FileNotFoundError(f"data file {data_file} is missing on this node")
    import ray

    path = Path(data_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(ray.get(data_box[0]))
    os.replace(partial, path)  # atomic: trials starting at once on this node see all or nothing


# Syne Tune code larger than this is not shipped (the trials fail, naming the folder): keep
# data sets out of the code's folder, or give every machine the folder at the same path.
MAX_SHIPPED_CODE_BYTES = 64 * 2**20


def zipped_folder(folder: Path) -> tuple[list[str], bytes]:
    """The files below `folder` (caches and hidden entries left out): their relative paths, and
    the files as a zip archive."""
    buffer, names = io.BytesIO(), []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            parts = path.relative_to(folder).parts
            if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts):
                names.append(Path(*parts).as_posix())
                archive.write(path, names[-1])
    if buffer.tell() > MAX_SHIPPED_CODE_BYTES:
        raise ValueError(f"{folder} holds {buffer.tell() / 2**20:.0f} MiB: too much to ship to every machine "
                         f"(at most {MAX_SHIPPED_CODE_BYTES / 2**20:.0f} MiB); keep data sets out of the "
                         f"code's folder, or give every machine the folder at this path")
    return names, buffer.getvalue()


def ship_code(settings: TrialSettings | None, cluster: ClusterInfo) -> list:
    """[(folder, its files' relative paths, a reference to them in Ray's object store)] for
    Syne Tune code given by path, when some node runs on another machine (and may lack the
    folder), else []: see `ensure_code_folders`."""
    import ray

    if settings is None or not cluster.beyond_this_machine:
        return []
    shipped = []
    for folder in code_folders(settings.objective):
        names, archive = zipped_folder(folder)
        shipped.append((str(folder), names, ray.put(archive)))
    return shipped


def ensure_code_folders(code_box: list) -> None:
    """Write the files of the code's folders that this node lacks, at the same paths (a file
    that is there is left as it is: the machine's own copy)."""
    import ray

    for folder, names, ref in code_box:
        missing = [name for name in names if not (Path(folder) / name).exists()]
        if not missing:
            continue
        staging = Path(folder) / f".shipped-{os.getpid()}"  # hidden: never shipped on
        with zipfile.ZipFile(io.BytesIO(ray.get(ref))) as archive:
            archive.extractall(staging, members=missing)
        for name in missing:  # each file atomically: trials starting at once see all or nothing
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, Path(folder) / name)
        shutil.rmtree(staging, ignore_errors=True)


def run_trial_task(function: str, kwargs: dict, settings: str | None, data_file: str | None,
                   trial_id: int, attempt: int, outputs, data_box: list, code_box: list) -> None:
    """Body of the Ray task that runs one trial (`settings`: TrialSettings as JSON, or None
    for a function that needs none; `data_file`: the data set's file, which this node may
    lack, as it may lack the folders of Syne Tune code)."""
    import ray

    outputs.add.remote(trial_id, attempt, "node", ray.get_runtime_context().get_node_id())
    out = ForwardedStream(outputs, trial_id, attempt, "out")
    err = ForwardedStream(outputs, trial_id, attempt, "err")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                if settings is not None:  # the suite's objectives; test functions have none
                    os.environ[TRIAL_SETTINGS_ENV] = settings  # this worker's next trial may differ
                if data_file is not None:
                    ensure_data_file(data_file, data_box)
                ensure_code_folders(code_box)
                module, name = function.rsplit(":", 1)
                getattr(importlib.import_module(module), name)(**kwargs)
            except KeyboardInterrupt:  # stopped or paused by the scheduler: not an error
                raise
            except BaseException:
                traceback.print_exc()  # into the trial's std.err, where the suite looks
                raise
    finally:
        out.close()
        err.close()


def data_file_of(settings: TrialSettings | None) -> str | None:
    """The file the trials read their data from, where it is one (not synthetic data, nor an
    objective's own kind of handle)."""
    if settings is None or settings.data in (None, SMOKE) or not Path(settings.data).is_file():
        return None
    return settings.data


def ship_data(data_file: str | None, cluster: ClusterInfo) -> list:
    """[a reference to the data set in Ray's object store] when some node runs on another
    machine (and may lack the file), else []: see `ensure_data_file`."""
    import ray

    if data_file is None or not cluster.beyond_this_machine:
        return []
    return [ray.put(Path(data_file).read_bytes())]


class RayTrial:
    """The part of `subprocess.Popen`'s interface that `LocalBackend` uses, over one Ray task.
    `code` is set by the backend when it sees the task end."""

    pid = -1

    def __init__(self, ref, attempt: int):
        self.ref = ref
        self.attempt = attempt
        self.code: int | None = None
        self.placed = False
        self.told_to_stop_at: float | None = None

    def poll(self) -> int | None:
        return self.code

    def kill(self) -> None:
        """Tell the task to stop; `kill_if_stuck` ends its worker if it does not."""
        import ray

        if self.code is None and self.told_to_stop_at is None:
            ray.cancel(self.ref, force=False)
            self.told_to_stop_at = time.monotonic()

    def kill_if_stuck(self) -> None:
        import ray

        if (self.code is None and self.told_to_stop_at is not None
                and time.monotonic() - self.told_to_stop_at > FORCE_KILL_AFTER_S):
            ray.cancel(self.ref, force=True)
            self.told_to_stop_at = float("inf")  # once


@dataclass
class _Connection:
    outputs: Any  # the TrialOutputs actor
    task: Any  # run_trial_task as a Ray remote function
    data_box: list
    code_box: list
    last_placement_check: float = 0.0


class RayTrialBackend(ProcessHooks, PythonBackend):
    """Runs `tune_function(**config)` as Ray tasks on the cluster at `address` (None: a local
    Ray started for this process), each asking for `resources`; `settings` (for the suite's
    objectives) reach each trial as they do with the local backends.

    `checkpoint_root` is a folder every node can read and write; trial checkpoints go to
    `checkpoint_root/EXPERIMENT/TRIAL_ID`. None keeps them in the experiment folder, which is
    right when all nodes share the tuner's disk (a cluster on one machine, or a shared
    results folder). The settings' data file is shipped through Ray's object store to nodes on
    other machines, so that they need no copy of the data set.
    """

    def __init__(self, tune_function: Callable, config_space: dict[str, Any],
                 resources: TrialResources, address: str | None = None,
                 checkpoint_root: Path | None = None, settings: TrialSettings | None = None):
        super().__init__(tune_function, config_space, rotate_gpus=False)  # Ray assigns GPUs
        self.function_path = f"{tune_function.__module__}:{tune_function.__qualname__}"
        self.resources = resources
        self.address = address
        self.checkpoint_root = checkpoint_root
        self.settings = settings
        self.data_file = data_file_of(settings)
        self.trial_nodes: dict[int, str] = {}  # trial_id -> id of the node of its latest run
        self.attempts = 0
        self._connection: _Connection | None = None

    def checkpoint_trial_path(self, trial_id: int) -> Path:
        return checkpoint_folder(self.local_path, trial_id, self.checkpoint_root)

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> _Connection:
        if self._connection is None:
            ray = import_ray()
            cluster = connect(self.address)
            self._connection = _Connection(
                outputs=ray.remote(num_cpus=0)(TrialOutputs).remote(),
                # Syne Tune decides about failed trials; Ray must not rerun them on its own
                task=ray.remote(max_retries=0)(run_trial_task),
                data_box=ship_data(self.data_file, cluster),
                code_box=ship_code(self.settings, cluster),
            )
        return self._connection

    # -- starting and ending trials ------------------------------------------------------------

    def launch_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        connection = self._connect()
        _, kwargs = prepare_trial_folder(self, trial_id, config)
        self.attempts += 1
        # until the task is submitted the trial counts as one that ended without running, so
        # that a Ctrl-C meanwhile leaves the backend consistent
        self.trial_subprocess[trial_id] = EndedTrial(None)
        ref = connection.task.options(
            num_cpus=self.resources.cpus, num_gpus=self.resources.gpus, name=f"trial-{trial_id}"
        ).remote(self.function_path, kwargs, self.settings.to_env() if self.settings else None,
                 self.data_file, trial_id, self.attempts, connection.outputs, connection.data_box,
                 connection.code_box)
        self.trial_subprocess[trial_id] = RayTrial(ref, self.attempts)

    def end_trial_process(self, trial_id: int) -> None:
        self.trial_subprocess[trial_id].kill()  # EndedTrial.kill does nothing

    def stop_all(self):
        """Stop every running trial and wait until its task has ended (killing its worker if
        it does not stop): the next experiment in this process must find the cluster free."""
        super().stop_all()
        deadline = time.monotonic() + FORCE_KILL_AFTER_S + 5.0
        while self._running() and time.monotonic() < deadline:
            self._collect()
            time.sleep(0.05)

    # -- watching trials -----------------------------------------------------------------------

    def before_reading_results(self) -> None:
        self._collect()

    def busy_trial_ids(self):
        self._collect()
        return super().busy_trial_ids()

    def _running(self) -> dict:
        return {trial_id: handle for trial_id, handle in self.trial_subprocess.items()
                if isinstance(handle, RayTrial) and handle.code is None}

    def _collect(self) -> None:
        """Append what trials printed to their files, then note the tasks that ended.

        Ended tasks are found *before* draining the actor: a task ends only after the actor
        holds all its lines, so a trial is never seen ended with output still missing.
        """
        import ray

        connection = self._connect()
        running = self._running()
        by_ref = {handle.ref: trial_id for trial_id, handle in running.items()}
        ended, _ = ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0) if by_ref else ([], [])
        for trial_id, attempt, kind, payload in ray.get(connection.outputs.drain.remote()):
            handle = self.trial_subprocess.get(trial_id)
            if kind == "node":
                self.trial_nodes[trial_id] = payload
                if isinstance(handle, RayTrial) and handle.attempt == attempt:
                    handle.placed = True
            else:
                self._append(trial_id, "std.out" if kind == "out" else "std.err", payload)
        for ref in ended:
            trial_id = by_ref[ref]
            self.trial_subprocess[trial_id].code = self._exit_code(trial_id, ref)
        for handle in self._running().values():
            handle.kill_if_stuck()
        self._fail_unplaceable(connection)

    def _exit_code(self, trial_id: int, ref) -> int:
        import ray
        from ray.exceptions import RayError, RayTaskError, TaskCancelledError

        try:
            ray.get(ref)
            return 0
        except RayTaskError:
            return 1  # the trial's traceback is already in its std.err
        except TaskCancelledError:
            return -9
        except RayError as e:  # the worker or its node died
            first_line = (str(e).strip().splitlines() or [""])[0]
            self._append(trial_id, "std.err",
                         f"the trial's Ray worker was lost: {type(e).__name__}: {first_line}\n")
            return 1

    def _fail_unplaceable(self, connection: _Connection) -> None:
        waiting = {trial_id: handle for trial_id, handle in self._running().items()
                   if not handle.placed}
        now = time.monotonic()
        if not waiting or now - connection.last_placement_check < PLACEMENT_CHECK_S:
            return
        connection.last_placement_check = now
        problem = describe(self.address or "local").placement_problem(self.resources)
        if problem is None:
            return
        for trial_id, handle in waiting.items():
            handle.kill()
            handle.code = 1
            self._append(trial_id, "std.err",
                         f"the trial cannot be placed on the Ray cluster: {problem}; ask for "
                         f"less per trial (--cpus-per-trial) or add a node that has it\n")

    def _append(self, trial_id: int, name: str, text: str) -> None:
        with open(self.trial_path(trial_id) / name, "a") as f:
            f.write(text)

    def __getstate__(self):
        state = without_live_trials(self)
        state["_connection"] = None  # a loaded tuner connects again at its first trial
        return state
