"""Driving a peer library's scheduler (SMAC's, DEHB's: experiments/schedulers/ask_tell.py's
ResumingAskTellScheduler) by hand, as Syne Tune's tuner does with one worker, on the toy
objective's learning curve, to compare what it runs with the library's own loop."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.scheduler import SchedulerDecision

from objectives.trial import RESOURCE_BOUND
from tests.toy_objectives import SPACE, final_score

MAX_T = 8
FIRST = {"x": 0.5, "y": 5}


def score(config: dict, step: int) -> float:
    """The toy objective's learning curve (tests/toy_objectives.py's `train`), maximised."""
    return final_score(config) * (1 - 0.5 / step)


def through_the_scheduler(scheduler, n: int, asked_budget: Callable,
                          tuner: dict | None = None) -> list[tuple[dict, float]]:
    """(configuration, budget) of each of n evaluations through the scheduler's interface, one
    worker, as Syne Tune's tuner calls it: a trial trains from its checkpoint (the last step it
    reported) up to its resource bound. `asked_budget(scheduler)`: the budget of its last ask,
    as the library gave it. `tuner`: the tuner's side (trials, steps done), to go on with."""
    tuner = {} if tuner is None else tuner
    history = []
    trials, done = tuner.setdefault("trials", {}), tuner.setdefault("done", {})
    while len(history) < n:
        suggestion = scheduler.suggest()
        if suggestion.spawn_new_trial_id:
            next_id = len(trials)
            trial = Trial(trial_id=next_id, config=suggestion.config, creation_time=datetime.now())
            trials[next_id], done[next_id] = trial, 0
            scheduler.on_trial_add(trial)
        else:
            trial = trials[suggestion.checkpoint_trial_id]
            trial.config = suggestion.config
        config = {name: trial.config[name] for name in SPACE}
        history.append((config, float(asked_budget(scheduler))))
        for step in range(done[trial.trial_id] + 1, trial.config[RESOURCE_BOUND] + 1):
            decision = scheduler.on_trial_result(trial, {"score": score(config, step), "step": step})
            done[trial.trial_id] = step
            if decision != SchedulerDecision.CONTINUE:
                break
        else:
            scheduler.on_trial_complete(trial, {"score": score(config, step), "step": step})
    return history
