"""The experiment folder: what the launchers write and the analysis reads, defined once.

An experiment is a Syne Tune experiment folder (`syne_tune.experiments.load_experiment` loads
it) with the suite's additions in `metadata.json`:

    EXPERIMENT/
      metadata.json      run description (the keys below), worker timeline, test score
      results.csv.zip    one row per report: the metrics, config_<hyperparameter>, st_* columns
      tuner.dill         the pickled tuner, for --resume (the analysis never loads it)
      <trial_id>/        std.out, std.err, config.json, checkpoints/ of each trial

Writers (experiments/) and readers (analysis/) both use these names, the atomic writes and
the timeline schema, so neither needs the other's code.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from objectives.files import atomic_file, write_text_atomically

METADATA_FILE = "metadata.json"
RESULTS_FILE = "results.csv.zip"  # Syne Tune's name (syne_tune.constants)
TUNER_FILE = "tuner.dill"
CHECKPOINTS_DIR = "checkpoints"  # inside a trial's folder

# -- metadata keys --------------------------------------------------------------------------
# Syne Tune's own, which its ExperimentResult (metric_names(), best_config(), plot()) reads:
METRIC_NAMES = "metric_names"
METRIC_MODE = "metric_mode"
# The suite's:
OBJECTIVE = "objective"  # the objective's name
OBJECTIVE_SPEC = "objective_spec"  # how --resume loads it again (analysis never does)
METRIC = "metric"
MODE = "mode"  # "min" or "max" (Syne Tune records it as METRIC_MODE too)
RESOURCE_ATTR = "resource_attr"
MAX_RESOURCE = "max_resource"
HYPERPARAMETERS = "hyperparameters"  # names of the searched hyperparameters
SCHEDULER = "scheduler"  # the method's name, as the launchers accept it
SCHEDULER_SETTINGS = "scheduler_settings"  # grace period, reduction factor, brackets, searcher
RUNG_LEVELS = "rung_levels"  # only for schedulers that compare trials at rungs
SEARCHER_COUNTS = "searcher_counts"  # where each suggestion came from (model, random, ...)
TRIAL_BRACKETS = "trial_brackets"  # asynchronous Hyperband: each trial's bracket, as its rung levels
RUNG_HISTORY = "rung_history"  # synchronous SH: every completed rung, its ranking and promotions
SH_BUSY = "busy"  # synchronous SH: starts the next bracket rather than wait (Syne Tune's variant)
SH_BRACKETS = "num_brackets"  # synchronous SH/Hyperband: how many brackets
SH_BRACKET_SIZES = "bracket_sizes"  # synchronous SH/Hyperband: trials at the first rung of each
PRUNER_DECISIONS = "pruner_decisions"  # Optuna's methods: reports checked and trials pruned, per step
OPTUNA_SETTINGS = "optuna_settings"  # Optuna's methods: sampler's and pruner's settings, study name
SMAC_EVALUATIONS = "smac_evaluations"  # smac_hyperband: evaluations told to SMAC, per budget and outcome
SMAC_SETTINGS = "smac_settings"  # smac_hyperband: scenario, intensifier and initial design settings
DEHB_EVALUATIONS = "dehb_evaluations"  # dehb: evaluations told to DEHB, per fidelity and outcome; trials resumed
DEHB_SETTINGS = "dehb_settings"  # dehb: DEHB's settings and version, its fidelities in epochs
TUNER_CPU_S = "tuner_cpu_s"  # CPU seconds of the tuner's own process (scheduler, bookkeeping; not the trials)
N_WORKERS = "n_workers"
N_GPUS = "n_gpus"
TRIALS_PER_GPU = "trials_per_gpu"
THREADS_PER_TRIAL = "threads_per_trial"
TRIAL_GPUS = "trial_gpus"  # which GPU(s) each trial ran on, where there were several
SEED = "seed"
BUDGET_S = "max_wallclock_time"  # None where the run had only a count limit
MAX_RESULTS = "max_results"  # the run ends once this many results are reported (None: no limit)
MAX_TRIALS = "max_trials"  # the run ends once this many trials have ended (None: no limit)
TRIAL_BACKEND = "trial_backend"
SEARCH_SPACE = "search_space"  # "full", or "recorded": the recorded table's configurations
DATA = "data"  # where the trials read their data (a file, "synthetic", or None)
SIMULATED = "simulated"
SMOKE = "smoke"
COMPARISON = "comparison"
METHOD = "method"
TARGET = "target"  # the value a comparison's runs aim at (a study sets it per benchmark)
TRIAL_TIMELINE = "trial_timeline"
TEST_METRIC = "test_metric"  # the name of the test score, e.g. "test_error"
LOAD_MODEL_CODE = "load_model_code"  # the objective's template of the lines that load a model
BEST_TRIAL_ID = "best_trial_id"
FINISHED = "finished"  # the launcher got to the end (test evaluation included)
INTERRUPTED = "interrupted"
ABORTED = "aborted"
RESUMED = "resumed"
COMMAND = "command"  # the command line that made the experiment
# The request as asked for (experiments.tuning.plan.RunRequest's fields, paths as text): --resume
# reads it back. Named "flags" since the first version, so that every experiment resumes.
REQUEST = "flags"
VERSIONS = "versions"  # of Python and the packages a run depends on
MACHINE = "machine"  # CPUs and platform of the machine the tuner ran on
TRIAL_NODES = "trial_nodes"  # Ray: the node each trial last ran on
RAY_CLUSTER = "ray_cluster"
CHECKPOINT_ROOT = "checkpoint_dir"  # Ray: the folder every node shares for checkpoints, if given

# Experiments written before hyperparameters and settings were separated carried these
# settings as config_<name> result columns.
LEGACY_SETTINGS = ("objective", "data_file", "max_epochs", "num_threads", "seed", "st_checkpoint_dir")


# -- reading and writing ----------------------------------------------------------------------


def read_metadata(folder: Path) -> dict:
    """metadata.json as a dict; raises OSError or ValueError when it is missing or damaged."""
    metadata = json.loads((Path(folder) / METADATA_FILE).read_text())
    if not isinstance(metadata, dict):
        raise ValueError("it holds no JSON object")
    return metadata


def update_metadata(folder: Path, **entries) -> None:
    """Add or replace entries of metadata.json, atomically (an analysis may read it meanwhile)."""
    path = Path(folder) / METADATA_FILE
    metadata = json.loads(path.read_text()) if path.exists() else {}
    metadata.update(entries)
    write_text_atomically(path, json.dumps(metadata, indent=1, default=str))


def write_results(folder: Path, results: pd.DataFrame) -> None:
    """results.csv.zip, atomically (pandas infers the zip compression from the name)."""
    with atomic_file(Path(folder) / RESULTS_FILE, "wb") as f:
        results.to_csv(f, index=False, compression={"method": "zip", "archive_name": "results.csv"})


# -- what a run's metadata says ---------------------------------------------------------------


def metric_of(metadata: dict) -> str:
    return metadata.get(METRIC) or (metadata.get(METRIC_NAMES) or ["validation_error"])[0]


def mode_of(metadata: dict) -> str:
    mode = metadata.get(METRIC_MODE) or metadata.get(MODE) or "min"
    return mode[0] if isinstance(mode, list) else mode


def method_of(metadata: dict) -> str | None:
    """The method as a comparison names it (`ray_tune_asha` runs Ray Tune's scheduler, not a
    Syne Tune one), else the scheduler."""
    return metadata.get(METHOD, metadata.get(SCHEDULER))


def metric_values(results: pd.DataFrame, metric: str) -> pd.Series:
    """The metric of each report as a number (NaN where it is text or missing)."""
    return pd.to_numeric(results[metric], errors="coerce")


def with_diverged_as_missing(results: pd.DataFrame | None, metadata: dict) -> pd.DataFrame | None:
    """The results with every NaN or infinite value of the metric (a diverged trial's report) as
    NaN: the worst result, never a best, whatever the mode, since pandas leaves NaN out of
    minima, maxima and running bests. The analysis reads every experiment through this."""
    metric = metric_of(metadata)
    if results is None or metric not in results:
        return results
    values = metric_values(results, metric)
    return results.assign(**{metric: values.where(np.isfinite(values))})


def diverged_trials(results: pd.DataFrame | None, metadata: dict) -> list[int]:
    """Trials that reported a NaN or infinite value of the metric."""
    metric = metric_of(metadata)
    if results is None or results.empty or metric not in results:
        return []
    return sorted(int(t) for t in results.loc[~np.isfinite(metric_values(results, metric)), "trial_id"].unique())


def best_row(results: pd.DataFrame | None, metadata: dict) -> pd.Series | None:
    """The report with the best value of the metric (lowest or highest, by the mode), or None
    where nothing was reported."""
    metric = metric_of(metadata)
    if results is None or results.empty or metric not in results or results[metric].isna().all():
        return None
    return results.loc[results[metric].idxmin() if mode_of(metadata) == "min" else results[metric].idxmax()]


def describe_limits(budget_s: float | None, max_results: int | None, max_trials: int | None,
                    simulated: bool = False) -> str:
    """When a run ends, in words: "720 s", "40 results", "300 s or 20 trials ended"."""
    limits = []
    if budget_s is not None:
        limits.append(f"{budget_s:g} {'simulated s' if simulated else 's'}")
    if max_results is not None:
        limits.append(f"{max_results} results")
    if max_trials is not None:
        limits.append(f"{max_trials} trials ended")
    return " or ".join(limits) or "no limit"


def limits_of(metadata: dict) -> str:
    return describe_limits(metadata.get(BUDGET_S), metadata.get(MAX_RESULTS), metadata.get(MAX_TRIALS),
                           bool(metadata.get(SIMULATED)))


def load_model_lines(metadata: dict, config: dict, checkpoint: Path) -> list[str] | None:
    """The lines of Python that load a trial's model: the objective's template, as its metadata
    holds it, with {config} and {checkpoint} filled in; None where there is none (experiments
    made before templates were recorded, objectives without one). Only those two fields are
    filled (str.format would evaluate attribute look-ups a folder from someone else chose), and
    the lines are text to show, never run."""
    import string

    template = metadata.get(LOAD_MODEL_CODE)
    if not isinstance(template, str):
        return None
    values = {"config": repr(config), "checkpoint": str(checkpoint)}
    parts = []
    try:
        for literal, field, spec, conversion in string.Formatter().parse(template):
            parts.append(literal)
            if field is None:
                continue
            if field not in values or spec or conversion:
                return None
            parts.append(values[field])
    except ValueError:  # unbalanced braces
        return None
    return "".join(parts).splitlines()


def resource_attr_of(metadata: dict) -> str:
    return metadata.get(RESOURCE_ATTR, "epoch")


def max_resource_of(metadata: dict, results: pd.DataFrame | None = None) -> int:
    value = metadata.get(MAX_RESOURCE, metadata.get("max_epochs"))  # older experiments
    if value is None and results is not None and not results.empty:
        value = results[resource_attr_of(metadata)].max()
    return int(value or 1)


def hyperparameter_columns(metadata: dict, results: pd.DataFrame) -> list[str]:
    """The results' config_<name> columns of searched hyperparameters."""
    names = metadata.get(HYPERPARAMETERS)
    columns = [c for c in results.columns if c.startswith("config_")]
    if names is not None:
        return [c for c in columns if c[len("config_"):] in names]
    return [c for c in columns if c[len("config_"):] not in LEGACY_SETTINGS]


def hyperparameter_values(row: pd.Series, metadata: dict, results: pd.DataFrame) -> dict:
    """A report's values of the searched hyperparameters, by name (as recorded: a run over the
    recorded configurations has their `config_id`)."""
    return {column[len("config_"):]: row[column] for column in hyperparameter_columns(metadata, results)}


def is_finished(metadata: dict) -> bool:
    """The launcher got to the end (older experiments had no flag but a test score at the end)."""
    return bool(metadata.get(FINISHED, "test_error" in metadata))


def is_partial(metadata: dict, results: pd.DataFrame | None) -> bool:
    """Interrupted, or ended before the launcher finished."""
    return results is None or not is_finished(metadata) or bool(metadata.get(INTERRUPTED))


# A launcher killed hard (SIGKILL, a lost machine) leaves the folder a running one has: only
# silence tells them apart. A running tuner rewrites metadata.json or results.csv.zip whenever a
# trial starts, reports or ends; an epoch of the built-in objectives takes seconds to a minute.
RUNNING_SILENCE_S = 300


def run_status(experiment_dir: Path, metadata: dict) -> str:
    """finished, interrupted (Ctrl-C or SIGTERM: --resume continues it), aborted (too many failed
    trials), `running?` (unfinished, written to lately) or partial (unfinished and silent)."""
    if metadata.get(ABORTED):
        return "aborted"
    if metadata.get(INTERRUPTED):
        return "interrupted"
    if is_finished(metadata):
        return "finished"
    files = [Path(experiment_dir) / name for name in (METADATA_FILE, RESULTS_FILE)]
    last_write = max((f.stat().st_mtime for f in files if f.exists()), default=0.0)
    return "running?" if time.time() - last_write < RUNNING_SILENCE_S else "partial"


def checkpoint_folder(experiment_dir: Path, trial_id: int, checkpoint_root: Path | str | None) -> Path:
    """Where a trial's checkpoints go: inside the experiment folder (as with every backend), or
    under a root folder every node of a Ray cluster shares (metadata CHECKPOINT_ROOT)."""
    if checkpoint_root is None:
        return Path(experiment_dir) / str(trial_id) / CHECKPOINTS_DIR
    return Path(checkpoint_root) / Path(experiment_dir).name / str(trial_id)


# -- the worker timeline ----------------------------------------------------------------------


@dataclass
class TimelineSegment:
    """One run of a trial on one worker (a paused and resumed trial has several), in tuner
    time (seconds since tuning started). `status`: Syne Tune's trial status when the run ended
    (Completed, Stopped, Paused, Failed), "Killed" when tuning ended under it, InProgress while
    it runs; `error`: the last line of a failed run's stderr."""

    trial_id: int
    worker: int
    start_s: float
    start_unix: float
    end_s: float | None = None
    status: str = "InProgress"
    error: str | None = None

    def as_dict(self) -> dict:
        entry = asdict(self)
        if entry["error"] is None:
            del entry["error"]
        return entry

    @classmethod
    def from_dict(cls, entry: dict) -> "TimelineSegment":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in entry.items() if k in known})


def write_timeline(folder: Path, segments: list[TimelineSegment]) -> None:
    update_metadata(folder, **{TRIAL_TIMELINE: [s.as_dict() for s in segments]})


def timeline_of(metadata: dict) -> list[TimelineSegment]:
    return [TimelineSegment.from_dict(entry) for entry in metadata.get(TRIAL_TIMELINE) or []]


def lowest_free_worker(open_segments) -> int:
    """Syne Tune does not number its workers: a starting run takes the lowest free slot."""
    busy = {segment.worker for segment in open_segments}
    return next(i for i in range(len(busy) + 1) if i not in busy)
