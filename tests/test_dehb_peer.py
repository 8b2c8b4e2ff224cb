"""DEHB's method (experiments/schedulers/dehb_peer.py): DEHB works with the suite's numpy 2, the
scheduler runs the (configuration, fidelity) sequence DEHB's own run() loop runs, and a real run
counts what DEHB did."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.scheduler import SchedulerDecision

from experiments.compat.syne_tune_searchers import POINTS_TO_EVALUATE
from experiments.schedulers import METHODS, SchedulerArgs
from experiments.schedulers.ask_tell import configuration_space, epochs
from experiments.schedulers.dehb_peer import (EVOLUTION, INITIAL_POPULATION, WORST_FITNESS, DehbScheduler,
                                              fidelity_levels, quiet)
from objectives.trial import RESOURCE_BOUND
from tests.conftest import read_metadata
from tests.peer_driver import FIRST, MAX_T, score, through_the_scheduler
from tests.toy_objectives import SPACE

N_EVALUATIONS = 60


def make_scheduler(tmp_path, seed: int = 0, points: tuple[dict, ...] = ()) -> DehbScheduler:
    """The method's scheduler as the launcher builds it, DEHB's output folder under tmp_path."""
    built = METHODS["dehb"].build(SchedulerArgs(
        config_space={**SPACE, RESOURCE_BOUND: MAX_T}, metric="score", do_minimize=False,
        resource_attr="step", max_t=MAX_T, grace_period=1, reduction_factor=2, seed=seed,
        points_to_evaluate=[dict(p) for p in points], max_resource_attr=RESOURCE_BOUND))
    settings = replace(built.settings, output_path=str(tmp_path / "ours"))
    return DehbScheduler(built.config_space, metric="score", time_attr="step", settings=settings,
                         max_resource_attr=RESOURCE_BOUND, do_minimize=False,
                         points_to_evaluate=[dict(p) for p in points])


def dehb_itself(settings, n: int) -> list[tuple[dict, float]]:
    """(configuration, fidelity) of each evaluation, DEHB driving the toy curve with its own
    run() loop (one worker: ask, evaluate, tell)."""
    history = []

    def train(config, fidelity: float, **kwargs) -> dict:
        history.append((dict(config), float(fidelity)))
        return {"fitness": -score(dict(config), epochs(fidelity, MAX_T)), "cost": 0.0}

    optimizer = settings.make_optimizer(configuration_space(SPACE, settings.seed), target_function=train)
    with quiet():
        optimizer.run(fevals=n)
    assert len(history) == n
    return history


def dehb_fidelity(scheduler) -> float:
    return scheduler.asked[-1]["fidelity"]


def test_dehb_works_with_numpy_2():
    """DEHB 0.1.2 declares numpy<2.0 (the Makefile installs it without its dependencies); the
    suite runs numpy 2, and the tests below run DEHB on it."""
    import importlib.metadata

    assert int(np.__version__.split(".")[0]) >= 2
    assert importlib.metadata.version("dehb") == "0.1.2"


def test_the_scheduler_runs_what_dehb_itself_runs(tmp_path):
    """Same settings and seed, no points_to_evaluate (DEHB's own loop takes none)."""
    ours_scheduler = make_scheduler(tmp_path)
    ours = through_the_scheduler(ours_scheduler, N_EVALUATIONS, dehb_fidelity)
    theirs = dehb_itself(replace(ours_scheduler.settings, output_path=str(tmp_path / "theirs")), N_EVALUATIONS)
    assert ours == theirs
    counts = ours_scheduler.suggestion_counts()
    assert counts[EVOLUTION] > 0 and counts[INITIAL_POPULATION] > 0, counts
    evaluations = ours_scheduler.evaluation_counts()
    assert evaluations["total"] == N_EVALUATIONS
    assert set(evaluations["by_budget"]) == {"1", "2", "4", "8"}
    assert evaluations["resumed"] > 0  # promoted configurations went on from their checkpoints
    assert evaluations["resumed"] + counts["total"] == N_EVALUATIONS  # each evaluation a new trial or a resumed one


def test_the_comparison_with_dehb_itself_can_tell_runs_apart(tmp_path):
    """Another seed gives another sequence: equal sequences above are not a matter of course."""
    settings = make_scheduler(tmp_path).settings
    assert dehb_itself(replace(settings, output_path=str(tmp_path / "a")), 20) != \
        dehb_itself(replace(settings, output_path=str(tmp_path / "b"), seed=1), 20)


@pytest.mark.parametrize("grace_period, reduction_factor, max_t", [(1, 2, 8), (1, 3, 10), (2, 2, 8), (2, 2, 20),
                                                                   (1, 3, 27), (3, 3, 81)])
def test_dehb_fidelities_in_epochs(tmp_path, grace_period, reduction_factor, max_t):
    """The rung levels a run records are DEHB's own fidelities, rounded."""
    from experiments.schedulers.dehb_peer import DehbSettings

    settings = DehbSettings(grace_period, reduction_factor, max_t, seed=0, output_path=str(tmp_path))
    optimizer = settings.make_optimizer(configuration_space(SPACE, 0))
    assert fidelity_levels(grace_period, reduction_factor, max_t) == [epochs(f, max_t) for f in optimizer.fidelities]


def test_dehb_fidelities_count_down_from_max_t():
    assert fidelity_levels(1, 3, 10) == [1, 3, 10]  # 10/9, 10/3, 10
    assert fidelity_levels(2, 2, 20) == [3, 5, 10, 20]  # 2.5 rounds up


def test_points_to_evaluate_come_first_and_dehb_takes_them_as_its_own(tmp_path):
    scheduler = make_scheduler(tmp_path, points=(FIRST, {"x": 0.25, "y": 7}))
    history = through_the_scheduler(scheduler, 16, dehb_fidelity)
    assert [config for config, _ in history[:2]] == [FIRST, {"x": 0.25, "y": 7}]
    assert {fidelity for _, fidelity in history[:2]} == {1.0}
    assert scheduler.suggestion_counts()[POINTS_TO_EVALUATE] == 2
    # DEHB holds the point (not the mutant it replaced) in its population, and promoted it
    with quiet():
        point = scheduler.dehb.configspace_to_vector(scheduler.asked[1]["config"])
    assert any(np.allclose(point, member) for member in scheduler.dehb.de[1.0].population)
    assert ({"x": 0.25, "y": 7}, 2.0) in history  # the best at 1 epoch goes on to 2


def start(scheduler, trial_id: int) -> Trial:
    suggestion = scheduler.suggest()
    assert suggestion.spawn_new_trial_id
    trial = Trial(trial_id=trial_id, config=suggestion.config, creation_time=datetime.now())
    scheduler.on_trial_add(trial)
    return trial


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_diverged_trials_stop_and_dehb_is_told_the_worst_and_goes_on(tmp_path, value):
    """Every trial diverges: DEHB, told NaN or infinity, would fail at its first promotion."""
    scheduler = make_scheduler(tmp_path)
    for trial_id in range(30):
        trial = start(scheduler, trial_id)
        assert scheduler.on_trial_result(trial, {"score": value, "step": 1}) == SchedulerDecision.STOP
    assert scheduler.dehb.history[0][2] == WORST_FITNESS
    counts = scheduler.evaluation_counts()
    assert counts["by_outcome"]["diverged"] == 30 and "success" not in counts["by_outcome"], counts
    assert counts["by_outcome"]["failed"] > 0  # diverged ones DEHB promoted, told again at once
    assert set(counts["by_budget"]) == {"1", "2", "4", "8"}


def test_a_failed_trial_is_told_as_the_worst(tmp_path):
    scheduler = make_scheduler(tmp_path)
    trial = start(scheduler, 0)
    scheduler.on_trial_error(trial)
    assert scheduler.dehb.history[0][2] == WORST_FITNESS
    assert scheduler.evaluation_counts()["by_outcome"] == {"failed": 1}
    scheduler.on_trial_error(trial)  # told once only
    assert scheduler.evaluation_counts()["total"] == 1


def test_a_pickled_scheduler_goes_on_as_the_original(tmp_path):
    import copy

    import dill

    scheduler, tuner = make_scheduler(tmp_path, points=(FIRST,)), {}
    through_the_scheduler(scheduler, 12, dehb_fidelity, tuner)
    resumed, resumed_tuner = dill.loads(dill.dumps(scheduler)), copy.deepcopy(tuner)
    assert (through_the_scheduler(resumed, 30, dehb_fidelity, resumed_tuner)
            == through_the_scheduler(scheduler, 30, dehb_fidelity, tuner))
    assert resumed.evaluation_counts() == scheduler.evaluation_counts()


def test_a_real_run_evolves_resumes_and_stops_diverged_trials(tmp_path):
    """A short real run through run_sync_sh.py's --method (in this process; warm backend, two
    workers) on an objective whose trials with x above 0.5 diverge."""
    from experiments.schedulers import SYNC_METHODS
    from experiments.tuning.launch import launch

    experiment = launch(SYNC_METHODS, "test", ["--method", "dehb", "--objective", "tests.toy_objectives:diverging",
                                               "--workers", "2", "--max-results", "50", "--grace-period", "1",
                                               "--results-dir", str(tmp_path)])
    metadata = read_metadata(experiment)
    counts, evaluations = metadata["searcher_counts"], metadata["dehb_evaluations"]
    assert counts[EVOLUTION] > 0, counts
    assert len(evaluations["by_budget"]) >= 3, evaluations
    assert evaluations["resumed"] > 0, evaluations
    assert evaluations["by_outcome"]["diverged"] > 0, evaluations
    assert metadata["dehb_settings"]["reduction_factor"] == 2 and metadata["dehb_settings"]["dehb_version"] == "0.1.2"
    assert metadata["rung_levels"] == [1, 2, 4, 8]


@pytest.mark.parametrize("flags, match", [({"brackets": 2}, "--brackets"), ({"grace_period": 8}, "--grace-period")])
def test_dehb_refuses_what_does_not_apply(flags, match):
    from experiments.tuning.plan import RunRequest, make_plan
    from objectives.usage import UsageError

    with pytest.raises(UsageError, match=match):
        make_plan(RunRequest(objective="tests.toy_objectives:quadratic", method="dehb", **flags))


def test_without_dehb_the_method_says_how_to_install_it(monkeypatch):
    import importlib.util

    from experiments.tuning.plan import check_installed
    from objectives.usage import UsageError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "dehb" else find_spec(name, *args))
    with pytest.raises(UsageError, match=r"pip install -e '\.\[peers\]', then pip install --no-deps dehb==0\.1\.2"):
        check_installed("dehb")
