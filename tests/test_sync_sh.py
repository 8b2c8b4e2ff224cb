"""Synchronous successive halving, both variants, driven directly with scripted results."""

from __future__ import annotations

import heapq
import math
from datetime import datetime

import pytest
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import loguniform
from syne_tune.optimizer.scheduler import SchedulerDecision

from experiments.compat.syne_tune import NothingToStartYet
from experiments.schedulers.sync_sh import SynchronousSuccessiveHalving, rung_levels

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

    def start_all(self, limit=100) -> list[int]:
        started = []
        while len(started) < limit:
            try:
                started.append(self.next())
            except NothingToStartYet:
                break
        return started

    def report(self, trial_id, epoch, value):
        return self.scheduler.on_trial_result(self.trials[trial_id], {"epoch": epoch, "loss": value})


def make(do_minimize=True, busy=False, **kwargs):
    kwargs = {"grace_period": 1, "reduction_factor": 2, "max_t": 8, **kwargs}
    return SynchronousSuccessiveHalving(
        SPACE, metric="loss", time_attr="epoch", do_minimize=do_minimize, random_seed=3,
        max_resource_attr="max_epochs", busy=busy, **kwargs,
    )


def test_rung_levels_match_asha():
    from syne_tune.optimizer.schedulers.asha import Bracket

    for grace, eta, max_t in [(1, 2, 8), (2, 2, 10), (1, 3, 27), (1, 3, 10), (3, 2, 10)]:
        asha = sorted(level for level, _ in Bracket(grace, max_t, eta, 0).rungs)
        assert rung_levels(grace, eta, max_t) == sorted(set(asha) | {max_t})


def test_rung_sizes_match_syne_tune_0_14_synchronous_hyperband():
    # Syne Tune 0.14.2's SynchronousHyperbandRungSystem.geometric(2, 10, 2) gave
    # [(8, 2), (4, 4), (2, 8), (1, 10)] for the first bracket, and for 3 brackets at (1, 8, 2):
    # [(8,1),(4,2),(2,4),(1,8)], [(6,2),(3,4),(2,8)], [(4,4),(2,8)]
    assert make(grace_period=2, max_t=10)._rungs(0) == [(8, 2), (4, 4), (2, 8), (1, 10)]
    hyperband = make(brackets=3)
    assert [hyperband._rungs(b) for b in range(3)] == [
        [(8, 1), (4, 2), (2, 4), (1, 8)], [(6, 2), (3, 4), (2, 8)], [(4, 4), (2, 8)]]


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


def test_waiting_variant_promotes_only_complete_rungs():
    driver = Driver(make(num_initial_trials=4))
    ids = driver.start_all()
    assert len(ids) == 4
    for trial_id in ids[:3]:
        assert driver.report(trial_id, 1, 0.1 * trial_id) == SchedulerDecision.PAUSE
        with pytest.raises(NothingToStartYet):
            driver.next()  # a free worker gets nothing while trial 3 is still at rung 1
    assert driver.report(ids[3], 1, 0.9) == SchedulerDecision.PAUSE
    assert driver.start_all() == [0, 1]


def test_busy_variant_starts_the_next_round_instead_of_waiting():
    scheduler = make(num_initial_trials=4, busy=True)
    driver = Driver(scheduler)
    assert driver.start_all(limit=4) == [0, 1, 2, 3]
    for trial_id in range(3):
        driver.report(trial_id, 1, 0.1 * trial_id)
    new = driver.start_all(limit=3)  # the rung waits for trial 3: three trials of round 2 start
    assert new == [4, 5, 6] and all(driver.trials[t].config["max_epochs"] == 1 for t in new)
    assert len(scheduler.active_brackets()) == 2
    driver.report(3, 1, 0.9)
    # round 1's promotions come first once its rung is complete
    assert driver.start_all(limit=2) == [0, 1]


def test_intermediate_epochs_continue():
    driver = Driver(make(num_initial_trials=2))
    driver.start_all()
    driver.report(0, 1, 0.1)
    driver.report(1, 1, 0.2)
    assert driver.start_all() == [0]
    assert driver.report(0, 2, 0.1) == SchedulerDecision.PAUSE
    assert driver.start_all() == [0]
    assert driver.report(0, 3, 0.1) == SchedulerDecision.CONTINUE  # rung 4 not reached yet


def test_ties_in_the_first_rung_go_to_the_trial_started_first():
    for _ in range(2):  # deterministic
        driver = Driver(make(num_initial_trials=4))
        driver.start_all()
        for trial_id in (3, 1, 2, 0):
            driver.report(trial_id, 1, 0.5)
        assert driver.start_all() == [0, 1]


def test_ties_later_go_to_the_trial_that_ranked_better_at_the_previous_rung():
    driver = Driver(make(num_initial_trials=4))
    driver.start_all()
    for trial_id, value in ((0, 0.4), (1, 0.3), (2, 0.9), (3, 0.8)):
        driver.report(trial_id, 1, value)
    assert driver.start_all() == [1, 0]  # ranked: 1 before 0
    driver.report(0, 2, 0.2)
    driver.report(1, 2, 0.2)  # an exact tie at rung 2
    assert driver.start_all() == [1]  # 1 was better at rung 1
    assert driver.scheduler.rung_history[1]["ranked"] == [1, 0]


def test_mode_max_promotes_the_largest():
    driver = Driver(make(do_minimize=False, num_initial_trials=4))
    driver.start_all()
    for trial_id, value in enumerate([0.1, 0.9, 0.5, 0.7]):
        driver.report(trial_id, 1, value)
    assert driver.start_all() == [1, 3]


def test_failed_or_ended_trial_keeps_its_slot_as_the_worst():
    scheduler = make(num_initial_trials=4)
    driver = Driver(scheduler)
    driver.start_all()
    driver.report(0, 1, 0.4)
    driver.report(1, 1, 0.3)
    scheduler.on_trial_error(driver.trials[2])  # crashed before reporting
    with pytest.raises(NothingToStartYet):
        driver.next()
    scheduler.on_trial_complete(driver.trials[3], {"epoch": 1, "loss": 1.0})  # ended by itself
    assert driver.start_all() == [1, 0]  # the rung kept its 4 slots: ceil(4/2) go on
    history = scheduler.rung_history[0]
    assert history["trials"] == [0, 1, 2, 3] and history["ranked"] == [1, 0, 2, 3]
    assert history["values"][2] is None and history["values"][3] is None  # worst: no result


def test_a_rung_of_failed_trials_still_fills_the_next_rung():
    scheduler = make(num_initial_trials=4)
    driver = Driver(scheduler)
    driver.start_all()
    driver.report(0, 1, 0.4)
    for trial_id in (1, 2, 3):
        scheduler.on_trial_error(driver.trials[trial_id])
    # as upstream, a failed trial fills the next rung when too few are valid; it cannot run
    # again, so its slot there is its worst result at once
    assert driver.start_all() == [0]
    assert scheduler.rung_history[0]["promoted"] == [0, 1]
    assert driver.report(0, 2, 0.3) == SchedulerDecision.PAUSE
    assert scheduler.rung_history[1]["ranked"] == [0, 1]


def test_nan_ranks_last():
    driver = Driver(make(num_initial_trials=2))
    driver.start_all()
    driver.report(0, 1, float("nan"))
    driver.report(1, 1, 0.9)
    assert driver.start_all() == [1]


def test_promoted_list_in_the_history_survives_the_resumes():
    scheduler = make(num_initial_trials=4)
    driver = Driver(scheduler)
    driver.start_all()
    for trial_id in range(4):
        driver.report(trial_id, 1, 0.1 * trial_id)
    driver.start_all()  # resumes both promoted trials
    assert scheduler.rung_history[0]["promoted"] == [0, 1]


def test_bracket_finishes_and_a_new_round_starts():
    scheduler = make(num_initial_trials=2, max_t=2)  # levels 1, 2
    driver = Driver(scheduler)
    rungs = run_bracket(driver, [0.2, 0.1])
    assert rungs == [[0, 1], [1]]
    assert len(scheduler.brackets) == 2
    new = driver.start_all()
    assert new == [2, 3]  # fresh trials of the next round


def test_hyperband_brackets_start_at_later_rungs():
    scheduler = make(brackets=3)
    assert scheduler.levels == [1, 2, 4, 8]
    assert [scheduler.bracket_size(b) for b in range(3)] == [8, 6, 4]  # 2^3, ceil(4/3*4), ceil(4/2*2)
    driver = Driver(scheduler)
    run_bracket(driver, [float(i) for i in range(8)])
    assert scheduler.brackets[-1].offset == 1
    ids = driver.start_all()
    assert len(ids) == 6 and all(driver.trials[t].config["max_epochs"] == 2 for t in ids)


def test_same_seed_samples_the_same_configurations_as_asha():
    from syne_tune.optimizer.baselines import ASHA

    asha = ASHA(SPACE, metric="loss", time_attr="epoch", max_t=8, random_seed=3)
    asha_x = [asha.suggest().config["x"] for _ in range(4)]
    sh = make(num_initial_trials=4)
    assert [sh.suggest().config["x"] for _ in range(4)] == asha_x


# -- four workers in simulated time ---------------------------------------------------------------


def value_of(trial_id: int, level: int) -> float:
    """A scripted learning curve: trial-specific, falling with the level, with exact ties."""
    return round(((trial_id * 7919) % 13) / 13 + 1.0 / level, 6)


def simulate(busy: bool, workers: int = 4, horizon: float = 200.0):
    """Run the scheduler on `workers` simulated workers, each epoch of trial t taking
    1 + t % 3 time units. Returns (scheduler, refusals, utilization): `refusals` lists the
    moments the scheduler left a free worker idle (it raised NothingToStartYet)."""
    scheduler = make(grace_period=2, reduction_factor=2, max_t=10, busy=busy)
    driver = Driver(scheduler)
    clock, events, progress, refusals = 0.0, [], {}, []  # events: (end, trial_id, level, start)
    busy_time = 0.0

    def fill():
        while len(events) < workers:
            try:
                trial_id = driver.next()
            except NothingToStartYet:
                refusals.append(clock)
                return
            level = driver.trials[trial_id].config["max_epochs"]
            duration = (level - progress.get(trial_id, 0)) * (1 + trial_id % 3)
            heapq.heappush(events, (clock + duration, trial_id, level, clock))

    fill()
    while events and events[0][0] <= horizon:
        clock, trial_id, level, started = heapq.heappop(events)
        busy_time += clock - started
        progress[trial_id] = level
        driver.report(trial_id, level, value_of(trial_id, level))
        fill()
    busy_time += sum(horizon - started for _, _, _, started in events)
    return scheduler, refusals, busy_time / (workers * horizon)


def test_busy_variant_never_idles_a_worker_and_decides_the_first_bracket_as_the_waiting_one():
    busy, refusals, busy_utilization = simulate(busy=True)
    waiting, waits, waiting_utilization = simulate(busy=False)
    # four workers, grace 2, eta 2, max 10: nobody waits while a trial could start
    assert refusals == [] and busy_utilization == pytest.approx(1.0)
    assert waits and waiting_utilization < 0.9  # the textbook variant does wait
    assert len(busy.brackets) > len(waiting.brackets)  # rounds ran side by side

    def first_bracket(scheduler):
        return [(h["level"], h["trials"], h["ranked"], h["promoted"])
                for h in scheduler.rung_history if h["bracket"] == 0]

    decisions = first_bracket(busy)
    assert [level for level, *_ in decisions] == [2, 4, 8, 10]  # the whole first bracket ran
    assert decisions == first_bracket(waiting)
