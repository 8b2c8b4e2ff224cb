"""What every trial process runs: the objective's `train` for one configuration.

The configuration a trial receives holds only the searched hyperparameters (plus the resource
bound a synchronous scheduler sets for each run, `RESOURCE_BOUND`). Everything else a trial
needs and that is the same for every trial (which objective, where the data are, threads,
seed) travels in the environment variable `TRIAL_SETTINGS_ENV`, which every backend sets, so
that trial start lines, result columns and `best_config()` show hyperparameters only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

TRIAL_SETTINGS_ENV = "HPO_TRIAL_SETTINGS"
# Config key by which a scheduler bounds one run of a trial (Syne Tune's max_resource_attr):
# synchronous SH sets it to the rung level, so the run ends there by itself. Prefixed `st_` as
# Syne Tune's own internal fields are, so that its status tables leave it out.
RESOURCE_BOUND = "st_max_resource"


@dataclass(frozen=True)
class TrialSettings:
    objective: str  # a built-in name or module:attribute (see objectives.load_objective)
    data: str | None
    max_resource: int
    threads: int
    seed: int

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "TrialSettings":
        text = os.environ.get(TRIAL_SETTINGS_ENV)
        if not text:
            raise RuntimeError(f"${TRIAL_SETTINGS_ENV} is not set: trials are started by a launcher")
        return cls(**json.loads(text))


class ReportWithoutMetric(ValueError):
    """The objective's `train` reported without the metric or the resource it declares."""


def checked_report(report, metric: str, resource_attr: str):
    """`report`, refusing a report that lacks the objective's metric or resource: the trial fails
    with the names it did report (the last line of its stderr, which the summary shows), where
    the tuner would otherwise end the whole run with a KeyError."""
    def report_checked(**metrics):
        missing = [name for name in (metric, resource_attr) if name not in metrics]
        if missing:
            raise ReportWithoutMetric(
                f"reported {', '.join(sorted(metrics)) or 'nothing'} without {' and '.join(missing)}: "
                f"report {metric} and {resource_attr} each time, or declare the names you report "
                f"as the Objective's metric and resource_attr")
        report(**metrics)

    return report_checked


def run_trial(config: dict, checkpoint_dir: str | None, report, settings: TrialSettings) -> None:
    """Train one configuration (a recorded configuration by its id, or the given
    hyperparameters), reporting through `report`. Every backend's trials run this."""
    from objectives import load_objective
    from objectives.objective import TrialRun
    from objectives.tables import trial_hyperparameters

    config = dict(config)
    max_resource = int(config.pop(RESOURCE_BOUND, settings.max_resource))
    objective = load_objective(settings.objective)
    config = trial_hyperparameters(config, objective.name, objective.search_space)
    run = TrialRun(report=checked_report(report, objective.metric, objective.resource_attr),
                   max_resource=max_resource, checkpoint_dir=checkpoint_dir,
                   data=settings.data, threads=settings.threads, seed=settings.seed)
    objective.train(config, run)


def trial_entry_point(st_checkpoint_dir, **config):
    """What Syne Tune's `PythonBackend` (and the suite's backends) run in each trial's process.

    PythonBackend rebuilds this function from its code object with empty globals, so it has no
    default values and imports everything it uses inside its body.
    """
    from syne_tune import Reporter

    report = Reporter()  # made first, so st_worker_time includes loading data
    from objectives.trial import TrialSettings, run_trial

    run_trial(config, st_checkpoint_dir, report, TrialSettings.from_env())
