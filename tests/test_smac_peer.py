"""SMAC's method (experiments/schedulers/smac_peer.py): the scheduler runs the (configuration,
budget) sequence SMAC's own optimize() loop runs, and a real run counts what SMAC did."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import pandas as pd
import pytest
from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.scheduler import SchedulerDecision

from experiments.compat.syne_tune_searchers import MODEL, POINTS_TO_EVALUATE
from experiments.schedulers import METHODS, SchedulerArgs
from experiments.schedulers.smac_peer import SmacHyperbandScheduler, budget_levels, configuration_space, epochs
from objectives.trial import RESOURCE_BOUND
from tests.conftest import read_metadata
from tests.peer_driver import FIRST, MAX_T, score, through_the_scheduler
from tests.toy_objectives import SPACE

N_EVALUATIONS = 20


def make_scheduler(tmp_path, seed: int = 0):
    """The method's scheduler as the launcher builds it, SMAC's output folder under tmp_path."""
    built = METHODS["smac_hyperband"].build(SchedulerArgs(
        config_space={**SPACE, RESOURCE_BOUND: MAX_T}, metric="score", do_minimize=False,
        resource_attr="step", max_t=MAX_T, grace_period=1, reduction_factor=2, seed=seed,
        points_to_evaluate=[dict(FIRST)], max_resource_attr=RESOURCE_BOUND))
    settings = replace(built.settings, output_directory=str(tmp_path / "ours"))
    return SmacHyperbandScheduler(built.config_space, metric="score", time_attr="step", settings=settings,
                                  max_resource_attr=RESOURCE_BOUND, do_minimize=False,
                                  points_to_evaluate=[dict(FIRST)])


def smac_itself(settings, n: int) -> list[tuple[dict, float]]:
    """(configuration, budget) of each evaluation, SMAC driving `train` with its own loop."""
    history = []

    def train(config, seed: int = 0, budget: float = MAX_T) -> float:
        history.append((dict(config), budget))
        return -score(dict(config), epochs(budget, MAX_T))

    facade = settings.make_facade(configuration_space(SPACE, settings.seed), [dict(FIRST)], target_function=train)
    facade.optimize()
    assert len(history) == n
    return history


def smac_budget(scheduler) -> float:
    return scheduler.asked[-1].budget


def test_the_scheduler_runs_what_smac_itself_runs(tmp_path):
    """Same settings and seed; SMAC's own loop runs n_trials = N evaluations (n_trials caps only
    the initial design, here 5 configurations either way)."""
    ours_scheduler = make_scheduler(tmp_path)
    ours = through_the_scheduler(ours_scheduler, N_EVALUATIONS, smac_budget)
    settings = replace(ours_scheduler.settings, output_directory=str(tmp_path / "theirs"), n_trials=N_EVALUATIONS)
    theirs = smac_itself(settings, N_EVALUATIONS)
    assert ours == theirs
    assert ours[0] == (FIRST, 1.0)  # points_to_evaluate first (SMAC would put them after its design)
    counts = ours_scheduler.suggestion_counts()
    assert counts[MODEL] > 0 and counts[POINTS_TO_EVALUATE] == 1, counts
    assert counts["total"] == len({tuple(sorted(c.items())) for c, _ in ours})
    evaluations = ours_scheduler.evaluation_counts()
    assert evaluations["total"] == N_EVALUATIONS
    assert set(evaluations["by_budget"]) == {"1", "2", "4", "8"}
    assert evaluations["resumed"] > 0  # promoted configurations went on from their checkpoints


def test_the_comparison_with_smac_itself_can_tell_runs_apart(tmp_path):
    """Another seed gives another sequence: equal sequences above are not a matter of course."""
    settings = make_scheduler(tmp_path).settings
    assert smac_itself(replace(settings, output_directory=str(tmp_path / "a"), n_trials=8), 8) != \
        smac_itself(replace(settings, output_directory=str(tmp_path / "b"), n_trials=8, seed=1), 8)


def test_smac_budgets_in_epochs():
    assert budget_levels(1, 2, 8) == [1, 2, 4, 8]
    assert budget_levels(1, 3, 10) == [1, 3, 10]  # 10/9, 10/3, 10
    assert budget_levels(2, 2, 8) == [2, 4, 8]


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_diverged_trial_stops_and_smac_is_told_it_crashed(tmp_path, value):
    from smac.runhistory import StatusType

    scheduler = make_scheduler(tmp_path)
    trial = Trial(trial_id=0, config=scheduler.suggest().config, creation_time=datetime.now())
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"score": value, "step": 1}) == SchedulerDecision.STOP
    (told,) = scheduler.smac.runhistory.values()
    assert told.status == StatusType.CRASHED and told.cost == math.inf
    assert scheduler.evaluation_counts()["by_outcome"] == {"diverged": 1}
    for _ in range(12):  # SMAC goes on past its initial design (its model leaves the crashed evaluation out)
        suggestion = scheduler.suggest()
        if suggestion.spawn_new_trial_id:
            trial = Trial(trial_id=trial.trial_id + 1, config=suggestion.config, creation_time=datetime.now())
            scheduler.on_trial_add(trial)
        step = suggestion.config[RESOURCE_BOUND]
        scheduler.on_trial_result(trial, {"score": score(suggestion.config, step), "step": step})


def test_a_pickled_scheduler_rebuilds_smac_and_goes_on(tmp_path):
    import dill

    scheduler = make_scheduler(tmp_path)
    through_the_scheduler(scheduler, 12, smac_budget)
    resumed = dill.loads(dill.dumps(scheduler))
    assert [(dict(i.config), i.budget) for i in resumed.asked] == [(dict(i.config), i.budget) for i in scheduler.asked]
    assert resumed.suggest().config == scheduler.suggest().config


def test_a_real_run_counts_model_suggestions_and_budgets(tmp_path):
    """A short real run through run_sync_sh.py's --method (in this process; warm backend, two
    workers)."""
    from experiments.schedulers import SYNC_METHODS
    from experiments.tuning.launch import launch

    experiment = launch(SYNC_METHODS, "test", ["--method", "smac_hyperband", "--objective",
                                               "tests.toy_objectives:quadratic", "--workers", "2", "--max-results",
                                               "40", "--grace-period", "1", "--results-dir", str(tmp_path)])
    metadata = read_metadata(experiment)
    results = pd.read_csv(experiment / "results.csv.zip")
    counts, evaluations = metadata["searcher_counts"], metadata["smac_evaluations"]
    assert counts[POINTS_TO_EVALUATE] == 1 and counts[MODEL] > 0, counts
    assert counts["total"] >= results["trial_id"].nunique()  # the last ones may not have reported yet
    assert len(evaluations["by_budget"]) >= 3, evaluations
    assert evaluations["resumed"] > 0, evaluations
    assert metadata["smac_settings"]["reduction_factor"] == 2  # the launcher's default


def test_smac_sets_its_own_brackets():
    from experiments.tuning.plan import RunRequest, make_plan
    from objectives.usage import UsageError

    with pytest.raises(UsageError, match="--brackets"):
        make_plan(RunRequest(objective="tests.toy_objectives:quadratic", method="smac_hyperband", brackets=2))
