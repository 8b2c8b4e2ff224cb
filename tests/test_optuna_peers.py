"""Optuna's methods (experiments/schedulers/optuna_peers.py): the scheduler makes the decisions
Optuna makes when it drives the objective itself, and a real run counts what TPE and the
pruner did."""

from __future__ import annotations

import math
from datetime import datetime

import optuna
import pandas as pd
import pytest
from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.scheduler import SchedulerDecision

from experiments.compat.syne_tune_searchers import MODEL, POINTS_TO_EVALUATE, WARMUP
from experiments.schedulers import METHODS, SchedulerArgs
from objectives.trial import RESOURCE_BOUND
from objectives.usage import UsageError
from tests.conftest import read_metadata
from tests.toy_objectives import SPACE, final_score

MAX_T = 8
FIRST = {"x": 0.5, "y": 5}  # the toy objective's default configuration, evaluated first
N_TRIALS = 40
PRUNERS = ["hyperband", "sha", "median"]


def curve(config: dict, step: int) -> float:
    """The toy objective's learning curve (tests/toy_objectives.py's `train`), maximised."""
    return final_score(config) * (1 - 0.5 / step)


def make_scheduler(pruner: str, seed: int = 0, grace_period: int = 1):
    return METHODS[f"optuna_tpe_{pruner}"].build(SchedulerArgs(
        config_space={**SPACE, RESOURCE_BOUND: MAX_T}, metric="score", do_minimize=False,
        resource_attr="step", max_t=MAX_T, grace_period=grace_period, reduction_factor=2, seed=seed,
        points_to_evaluate=[dict(FIRST)], max_resource_attr=RESOURCE_BOUND))


def optuna_itself(settings, n_trials: int) -> list[tuple[dict, int | None]]:
    """(configuration, step pruned at or None) of each trial, Optuna driving the objective with
    its documented loop: report each step, raise TrialPruned when the pruner says so."""
    study = optuna.create_study(study_name=settings.study_name, sampler=settings.make_sampler(),
                                pruner=settings.make_pruner(), direction="maximize")
    study.enqueue_trial(dict(FIRST))
    history = []

    def objective(trial):
        config = {"x": trial.suggest_float("x", 0.0, 1.0), "y": trial.suggest_int("y", 1, 10)}
        for step in range(1, MAX_T + 1):
            trial.report(curve(config, step), step)
            if trial.should_prune():
                history.append((config, step))
                raise optuna.TrialPruned()
        history.append((config, None))
        return curve(config, MAX_T)

    study.optimize(objective, n_trials=n_trials)
    return history


def through_the_scheduler(scheduler, n_trials: int) -> list[tuple[dict, int | None]]:
    """The same, one worker, through the scheduler's interface as Syne Tune's tuner calls it."""
    history = []
    for trial_id in range(n_trials):
        suggestion = scheduler.suggest()
        assert suggestion.config[RESOURCE_BOUND] == MAX_T  # the suite's constant passes through
        trial = Trial(trial_id=trial_id, config=suggestion.config, creation_time=datetime.now())
        scheduler.on_trial_add(trial)
        config = {name: suggestion.config[name] for name in SPACE}
        pruned_at = None
        for step in range(1, MAX_T + 1):
            result = {"score": curve(config, step), "step": step}
            if scheduler.on_trial_result(trial, result) == SchedulerDecision.STOP:
                pruned_at = step
                break
        else:
            scheduler.on_trial_complete(trial, result)
        history.append((config, pruned_at))
    return history


@pytest.mark.parametrize("pruner", PRUNERS)
def test_the_scheduler_suggests_and_prunes_as_optuna_itself(pruner):
    scheduler = make_scheduler(pruner)
    ours = through_the_scheduler(scheduler, N_TRIALS)
    theirs = optuna_itself(scheduler.settings, N_TRIALS)
    assert [config for config, _ in ours] == [config for config, _ in theirs]
    assert [step for _, step in ours] == [step for _, step in theirs]
    pruned = [step for _, step in ours if step is not None]
    assert pruned, f"{pruner}: no trial pruned in {N_TRIALS}"
    # one worker: trial k is asked after k trials ended, and TPE uses its model from the 10th on
    assert scheduler.suggestion_counts() == {POINTS_TO_EVALUATE: 1, WARMUP: 9, MODEL: N_TRIALS - 10,
                                             "total": N_TRIALS}
    decisions = scheduler.decision_counts()
    assert decisions["pruned"] == len(pruned)
    assert decisions["pruned_by_step"] == {str(s): pruned.count(s) for s in sorted(set(pruned))}
    assert decisions["reports_checked"] == sum(step or MAX_T for _, step in ours)


def test_the_comparison_with_optuna_itself_can_tell_runs_apart():
    """Another seed gives another sequence: equal sequences above are not a matter of course."""
    assert optuna_itself(make_scheduler("sha", seed=0).settings, 12) != \
        optuna_itself(make_scheduler("sha", seed=1).settings, 12)


def test_the_median_pruner_first_decides_at_the_grace_period():
    scheduler = make_scheduler("median", grace_period=3)
    through_the_scheduler(scheduler, N_TRIALS)
    pruned_steps = {int(step) for step in scheduler.decision_counts()["pruned_by_step"]}
    assert pruned_steps and min(pruned_steps) >= 3


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_diverged_trial_stops_and_fails_without_reaching_tpe(value):
    scheduler = make_scheduler("sha")
    trial = Trial(trial_id=0, config=scheduler.suggest().config, creation_time=datetime.now())
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"score": value, "step": 1}) == SchedulerDecision.STOP
    (told,) = scheduler.study.get_trials(deepcopy=False)
    assert told.state == optuna.trial.TrialState.FAIL and told.intermediate_values == {}
    assert scheduler.decision_counts()["trials_ended"] == {"diverged": 1}


def test_optuna_sets_its_own_brackets():
    from experiments.tuning.plan import RunRequest, make_plan

    with pytest.raises(UsageError, match="--brackets"):
        make_plan(RunRequest(objective="tests.toy_objectives:quadratic", method="optuna_tpe_hyperband",
                             brackets=2))


@pytest.mark.parametrize("method,max_results", [("optuna_tpe_hyperband", 100), ("optuna_tpe_sha", 60),
                                                ("optuna_tpe_median", 100)])
def test_a_real_run_counts_model_suggestions_and_pruned_trials(tmp_path, method, max_results):
    """A short real run through run_asha.py's --method (in this process; warm backend, two
    workers); the median pruner waits for 5 completed trials and Hyperband runs a bracket of
    trials to max_t unpruned, hence more results: 10 trials must end before TPE uses its model."""
    from experiments.schedulers import ASYNC_METHODS
    from experiments.tuning.launch import launch

    experiment = launch(ASYNC_METHODS, "test", ["--method", method, "--objective", "tests.toy_objectives:quadratic",
                                                "--workers", "2", "--max-results", str(max_results),
                                                "--grace-period", "1", "--results-dir", str(tmp_path)])
    metadata = read_metadata(experiment)
    results = pd.read_csv(experiment / "results.csv.zip")
    counts, decisions = metadata["searcher_counts"], metadata["pruner_decisions"]
    assert counts[POINTS_TO_EVALUATE] == 1 and counts[MODEL] > 0, counts
    assert counts["total"] >= results["trial_id"].nunique()
    assert decisions["pruned"] > 0, decisions
    assert 0 < decisions["reports_checked"] <= len(results)
    assert metadata["optuna_settings"]["pruner"] == METHODS[method].pruner
    assert metadata["optuna_settings"]["study_name"] == f"{method}-seed-0"


def test_the_metadata_marks_the_steps_where_optuna_compares_trials():
    """Optuna's successive halving compares at r_min * eta^k; the suite's schedulers also at max_t."""
    from experiments.tuning.build import rung_levels_of
    from experiments.tuning.plan import RunRequest, make_plan

    def levels(method):
        return rung_levels_of(make_plan(RunRequest(objective="tests.toy_objectives:quadratic", method=method,
                                                   grace_period=3, reduction_factor=2)))

    assert levels("asha") == [3, 6, 8]
    assert levels("optuna_tpe_sha") == levels("optuna_tpe_hyperband") == [3, 6]
    assert levels("optuna_tpe_median") is None  # it compares at every step
    scheduler = make_scheduler("sha", grace_period=3)
    through_the_scheduler(scheduler, N_TRIALS)
    assert {int(step) for step in scheduler.decision_counts()["pruned_by_step"]} <= {3, 6}


def test_a_simulated_comparison_with_asha(tmp_path):
    """Optuna's methods on the recorded learning curves, paired with ASHA, as
    `experiments/compare.py --backend simulated --methods asha,optuna_tpe_hyperband,optuna_tpe_sha`."""
    from analysis.comparison import compare
    from experiments.tuning.comparison import ComparisonRequest, plan_comparison, run_comparison
    from experiments.tuning.plan import RunRequest

    methods = ("asha", "optuna_tpe_hyperband", "optuna_tpe_sha")
    comparison = plan_comparison(ComparisonRequest(
        run=RunRequest(backend="simulated", workers=2, max_results=120, results_dir=tmp_path),
        methods=methods, seeds=1, name="peers"))
    folders = run_comparison(comparison, say=lambda text: None)
    for folder, method in zip(folders, methods):
        metadata = read_metadata(folder)
        assert metadata["max_results"] == 120 and len(pd.read_csv(folder / "results.csv.zip")) >= 120
        if method != "asha":
            assert metadata["searcher_counts"][MODEL] > 0 and metadata["pruner_decisions"]["pruned"] > 0, method
    text = compare("peers", tmp_path).to_text()
    assert all(method in text for method in methods)


def test_a_pickled_scheduler_resumes_and_ends_the_trials_an_interruption_killed():
    """--resume loads the tuner from its dill pickle; the trials running at the interruption
    are told failed, and the study goes on asking."""
    import dill

    scheduler = make_scheduler("sha")
    through_the_scheduler(scheduler, 3)
    trial = Trial(trial_id=3, config=scheduler.suggest().config, creation_time=datetime.now())
    scheduler.on_trial_add(trial)
    scheduler.on_trial_result(trial, {"score": 0.5, "step": 1})
    resumed = dill.loads(dill.dumps(scheduler))
    assert resumed.end_running() == [3]
    states = [t.state for t in resumed.study.get_trials(deepcopy=False)]
    assert states[3] == optuna.trial.TrialState.FAIL and optuna.trial.TrialState.RUNNING not in states
    assert resumed.suggest().config[RESOURCE_BOUND] == MAX_T
    assert resumed.suggestion_counts()["total"] == 5
