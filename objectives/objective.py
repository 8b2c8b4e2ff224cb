"""The interface every objective implements, the built-in ones and yours.

An objective is a search space, a maximum resource (epochs, iterations, ...) and a `train`
function that trains one configuration and reports after each unit of resource through the
`report` it is given (a Syne Tune `Reporter` while tuning):

    from syne_tune.config_space import loguniform, randint
    from objectives import Objective

    def train(config, run):
        for epoch in range(1, run.max_resource + 1):
            ...  # one epoch with config["learning_rate"], config["batch_size"]
            run.report(epoch=epoch, validation_error=error)

    objective = Objective(
        name="my_model",
        search_space={"learning_rate": loguniform(1e-3, 1.0), "batch_size": randint(16, 256)},
        max_resource=10,
        train=train,
    )

Then `python experiments/run_asha.py --objective my_package.my_module:objective`. What only
image classifiers need (cached tensors, normalisation, synthetic smoke data, a test split) is
the helper `objectives.image_classification`, not part of this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class TrialRun:
    """What one run of a trial receives besides its configuration."""

    report: Callable[..., None]  # report(**metrics) once per unit of resource
    max_resource: int  # train up to this level (a scheduler may set it below the maximum)
    checkpoint_dir: str | None  # save progress here; a paused trial resumes from it
    data: str | None  # what Objective.prepare_data returned (None without one)
    threads: int  # CPU threads this run may use
    seed: int


@dataclass(frozen=True)
class Objective:
    """What the suite tunes.

    Args:
        name: a short name, used in experiment names and summaries.
        search_space: Syne Tune domains (`syne_tune.config_space`) of the hyperparameters.
        max_resource: resource of a fully trained trial (e.g. 10 epochs): the schedulers' max_t.
        train: `train(config, run: TrialRun)`; reports `{resource_attr: level, metric: value}`
            after each unit of resource, at levels 1, 2, ..., and stops at `run.max_resource`.
            Saving a checkpoint to `run.checkpoint_dir` and resuming from it lets synchronous
            SH pause and resume a trial without training anything twice.
        metric, mode: the reported metric to optimise and its direction, "min" or "max".
        resource_attr: the reported resource key, e.g. "epoch".
        default_config: evaluated first, as a known reasonable starting point (optional).
        prepare_data: `prepare_data(data_dir, smoke) -> str`, called once by the launcher
            (not by every trial); the string reaches `train` as `run.data`. Raise
            `objectives.data.DataNotFoundError` with the fix when the data are missing.
        preload: `preload(data)`, run once in the warm backend's parent process, so that every
            trial forked from it starts with the data loaded (optional).
        evaluate_test: `evaluate_test(config, checkpoint_dir, data) -> float`, the best trial's
            score on held-out test data after tuning, recorded as `test_metric` (optional).
        test_metric: the name under which that score is recorded.
        load_model_code: two lines of Python that load a trained model, with placeholders
            {config} and {checkpoint} (the trial's checkpoint folder), shown with the best trial
            in summaries (optional).
        description: one line for help texts.
    """

    name: str
    search_space: dict[str, Any]
    max_resource: int
    train: Callable[[dict[str, Any], TrialRun], None]
    metric: str = "validation_error"
    mode: str = "min"
    resource_attr: str = "epoch"
    default_config: dict[str, Any] | None = None
    prepare_data: Callable[[str | None, bool], str] | None = None
    preload: Callable[[str | None], None] | None = None
    evaluate_test: Callable[[dict[str, Any], str, str | None], float] | None = None
    test_metric: str = "test_error"
    load_model_code: str | None = None
    description: str = field(default="")

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"objective {self.name}: mode must be 'min' or 'max', not {self.mode!r}")
        if not isinstance(self.max_resource, int) or self.max_resource < 1:
            raise ValueError(f"objective {self.name}: max_resource must be a positive integer")

    @property
    def hyperparameters(self) -> list[str]:
        """The names the schedulers search over (constants in the search space excluded)."""
        from syne_tune.config_space import Domain

        return [name for name, domain in self.search_space.items() if isinstance(domain, Domain)]

    @property
    def has_data(self) -> bool:
        return self.prepare_data is not None
