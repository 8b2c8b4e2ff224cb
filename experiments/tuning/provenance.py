"""What an experiment's metadata records about how it was made: the run's settings, the
versions, the machine and the command line (keys defined in analysis.experiment_folder)."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path

from analysis import experiment_folder as folder
from experiments.tuning import resources
from experiments.tuning.plan import RunPlan


def versions() -> dict:
    """Versions of what a run depends on, as installed (read from the packages' metadata: the
    launcher of an objective that does not use torch never imports it)."""
    from importlib.metadata import version

    return {"python": platform.python_version(),
            **{name.replace("-", "_"): version(name) for name in ("syne-tune", "torch", "numpy", "pandas")}}


def command_line() -> str:
    return shlex.join([Path(sys.executable).name, *sys.argv])


def metadata_of(plan: RunPlan, rung_levels: list[int] | None, hyperparameters: list[str]) -> dict:
    objective = plan.objective
    metadata = {
        folder.OBJECTIVE: objective.name,
        folder.OBJECTIVE_SPEC: plan.objective_spec,
        # the metric itself is recorded by the scheduler (metric, metric_names, metric_mode)
        folder.MODE: objective.mode,
        folder.RESOURCE_ATTR: objective.resource_attr,
        folder.MAX_RESOURCE: plan.max_resource,
        folder.HYPERPARAMETERS: hyperparameters,
        folder.SCHEDULER: plan.method,
        folder.SCHEDULER_SETTINGS: {"grace_period": plan.grace_period,
                                    "reduction_factor": plan.reduction_factor,
                                    "brackets": plan.brackets},
        folder.TRIAL_BACKEND: plan.backend,
        folder.SEED: plan.seed,
        folder.N_WORKERS: plan.n_workers,
        folder.N_GPUS: plan.n_gpus,
        folder.TRIALS_PER_GPU: plan.trials_per_gpu,
        folder.THREADS_PER_TRIAL: plan.threads_per_trial,
        folder.BUDGET_S: plan.budget_s,
        folder.MAX_RESULTS: plan.max_results,
        folder.MAX_TRIALS: plan.max_trials,
        folder.SEARCH_SPACE: plan.search_space,
        folder.SMOKE: plan.smoke,
        folder.SIMULATED: plan.simulated,
        folder.DATA: plan.data,
        folder.TEST_METRIC: objective.test_metric if objective.evaluate_test else None,
        # what the analysis shows of the objective is data here: it never imports the objective
        folder.LOAD_MODEL_CODE: objective.load_model_code,
        folder.REQUEST: plan.request.as_metadata(),
        folder.COMMAND: command_line(),
        folder.VERSIONS: versions(),
        # the tuner process's string hashing ("random" unless set), on which SMAC's choices depend
        folder.MACHINE: {"cpus": resources.cpus_available(), "platform": platform.platform(),
                         "python_hash_seed": os.environ.get("PYTHONHASHSEED", "random")},
        **plan.tags,
    }
    if rung_levels is not None:
        metadata[folder.RUNG_LEVELS] = rung_levels
    if plan.cluster is not None:
        metadata[folder.RAY_CLUSTER] = plan.cluster.as_metadata()
        metadata[folder.CHECKPOINT_ROOT] = str(plan.checkpoint_root) if plan.checkpoint_root else None
    return metadata
