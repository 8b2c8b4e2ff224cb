"""Synchronous successive halving, driven directly with scripted results (no training)."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import loguniform
from syne_tune.optimizer.scheduler import SchedulerDecision

from experiments.sync_sh import SynchronousSuccessiveHalving, rung_levels
from experiments.tuner import NothingToStartYet

SPACE = {"x": loguniform(1e-3, 1.0), "max_epochs": 8}


class Driver:
    """Plays the tuner: starts and resumes what the scheduler suggests, reports given values."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.trials: dict[int, Trial] = {}
        self.resumed: list[int] = []

    def next(self):
        """Start or resume one trial; return its id (raises NothingToStartYet)."""
        suggestion = self.scheduler.suggest()
        if suggestion.spawn_new_trial_id:
            trial = Trial(len(self.trials), suggestion.config, datetime.now())
            self.trials[trial.trial_id] = trial
            self.scheduler.on_trial_add(trial)
            return trial.trial_id
        self.resumed.append(suggestion.checkpoint_trial_id)
        self.trials[suggestion.checkpoint_trial_id].config = suggestion.config
        return suggestion.checkpoint_trial_id

    def start_all(self) -> list[int]:
        started = []
        while True:
            try:
                started.append(self.next())
            except NothingToStartYet:
                return started

    def report(self, trial_id, epoch, value):
        return self.scheduler.on_trial_result(
            self.trials[trial_id], {"epoch": epoch, "loss": value}
        )


def make(do_minimize=True, **kwargs):
    kwargs = {"grace_period": 1, "reduction_factor": 2, "max_t": 8, **kwargs}
    return SynchronousSuccessiveHalving(
        SPACE, metric="loss", time_attr="epoch", do_minimize=do_minimize, random_seed=3,
        max_resource_attr="max_epochs", **kwargs,
    )


def test_rung_levels_match_asha():
    from syne_tune.optimizer.schedulers.asha import Bracket

    for grace, eta, max_t in [(1, 2, 8), (2, 2, 10), (1, 3, 27), (1, 3, 10), (3, 2, 10)]:
        asha = sorted(level for level, _ in Bracket(grace, max_t, eta, 0).rungs)
        assert rung_levels(grace, eta, max_t) == sorted(set(asha) | {max_t})


def run_bracket(driver, values):
    """Report `values[trial_id]` at every rung; return the trial ids of each rung."""
    rungs = []
    for level in driver.scheduler.levels:
        ids = driver.start_all()
        rungs.append(ids)
        assert all(driver.trials[t].config["max_epochs"] == level for t in ids)
        for trial_id in ids:
            driver.report(trial_id, level, values[trial_id])
    return rungs


def test_rung_sizes_halve_and_best_survive():
    driver = Driver(make(num_initial_trials=10))
    values = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.05]
    rungs = run_bracket(driver, values)
    assert [len(r) for r in rungs] == [math.ceil(10 / 2**r) for r in range(4)]  # 10, 5, 3, 2
    ranked = sorted(range(10), key=lambda t: values[t])
    for rung, size in zip(rungs, [10, 5, 3, 2]):
        assert sorted(rung) == sorted(ranked[:size])
    assert sorted(driver.resumed) == sorted(rungs[1] + rungs[2] + rungs[3])


def test_default_trial_count_leaves_one_at_the_top():
    driver = Driver(make())
    rungs = run_bracket(driver, [float(i) for i in range(8)])
    assert [len(r) for r in rungs] == [8, 4, 2, 1]
    assert rungs[-1] == [0]


def test_no_promotion_before_the_rung_is_complete():
    driver = Driver(make(num_initial_trials=4))
    ids = driver.start_all()
    assert len(ids) == 4
    for trial_id in ids[:3]:
        assert driver.report(trial_id, 1, 0.1 * trial_id) == SchedulerDecision.PAUSE
        with pytest.raises(NothingToStartYet):
            driver.next()  # a free worker gets nothing while trial 3 is still at rung 1
    assert driver.report(ids[3], 1, 0.9) == SchedulerDecision.PAUSE
    assert driver.start_all() == [0, 1]


def test_intermediate_epochs_continue():
    driver = Driver(make(num_initial_trials=2))
    driver.start_all()
    driver.report(0, 1, 0.1)
    driver.report(1, 1, 0.2)
    assert driver.start_all() == [0]
    assert driver.report(0, 2, 0.1) == SchedulerDecision.PAUSE
    assert driver.start_all() == [0]
    assert driver.report(0, 3, 0.1) == SchedulerDecision.CONTINUE  # rung 4 not reached yet


def test_ties_go_to_the_lower_trial_id():
    for _ in range(2):  # deterministic
        driver = Driver(make(num_initial_trials=4))
        driver.start_all()
        for trial_id in (3, 1, 2, 0):
            driver.report(trial_id, 1, 0.5)
        assert driver.start_all() == [0, 1]


def test_mode_max_promotes_the_largest():
    driver = Driver(make(do_minimize=False, num_initial_trials=4))
    driver.start_all()
    for trial_id, value in enumerate([0.1, 0.9, 0.5, 0.7]):
        driver.report(trial_id, 1, value)
    assert driver.start_all() == [1, 3]


def test_failed_or_stopped_trial_leaves_its_rung():
    scheduler = make(num_initial_trials=4)
    driver = Driver(scheduler)
    driver.start_all()
    driver.report(0, 1, 0.4)
    driver.report(1, 1, 0.3)
    scheduler.on_trial_error(driver.trials[2])  # crashed before reporting
    with pytest.raises(NothingToStartYet):
        driver.next()
    scheduler.on_trial_complete(driver.trials[3], {"epoch": 1, "loss": 1.0})  # ended by itself
    assert driver.start_all() == [1]  # the rung completed with 2 results: ceil(2/2) go on
    assert scheduler.rung_history[0]["trials"] == [1, 0]


def test_nan_ranks_last():
    driver = Driver(make(num_initial_trials=2))
    driver.start_all()
    driver.report(0, 1, float("nan"))
    driver.report(1, 1, 0.9)
    assert driver.start_all() == [1]


def test_bracket_finishes_and_a_new_round_starts():
    scheduler = make(num_initial_trials=2, max_t=2)  # levels 1, 2
    driver = Driver(scheduler)
    rungs = run_bracket(driver, [0.2, 0.1])
    assert rungs == [[0, 1], [1]]
    assert scheduler.brackets_started == 2
    new = driver.start_all()
    assert len(new) == 2 and min(new) == 2  # fresh trials of the next round
    assert scheduler.brackets_started == 2


def test_hyperband_brackets_start_at_later_rungs():
    scheduler = make(brackets=3)
    assert scheduler.levels == [1, 2, 4, 8]
    assert [scheduler.bracket_size(b) for b in range(3)] == [8, 6, 4]  # 2^3, ceil(4/3*4), ceil(4/2*2)
    driver = Driver(scheduler)
    run_bracket(driver, [float(i) for i in range(8)])
    assert scheduler.bracket == 1
    ids = driver.start_all()
    assert len(ids) == 6 and all(driver.trials[t].config["max_epochs"] == 2 for t in ids)


def test_same_seed_samples_the_same_configurations_as_asha():
    from syne_tune.optimizer.baselines import ASHA

    asha = ASHA(SPACE, metric="loss", time_attr="epoch", max_t=8, random_seed=3)
    asha_x = [asha.suggest().config["x"] for _ in range(4)]
    sh = make(num_initial_trials=4)
    assert [sh.suggest().config["x"] for _ in range(4)] == asha_x
