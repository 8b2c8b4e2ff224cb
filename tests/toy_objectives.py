"""Objectives that are not image classifiers, written as a user of the suite would write one
(`objectives.Objective`): for tests of tuning your own model, failures and odd metrics.

`quadratic`: a pure-Python "training" whose score rises with the step towards a maximum that
depends on x and y (best near x = 0.3, y = 7), maximised, resource "step" up to 8; it
checkpoints its progress, so SH can pause and resume it. `crashing`: every trial fails at its
second step. `killed`: every trial's process is killed with SIGKILL at its second step, as the
out-of-memory killer would. `interrupting` and `interrupting_before_report`: the first trial
to finish its first step interrupts the launcher, just after reporting it or just before.
`diverging`: trials with x above 0.5 report NaN or +inf. `misreporting`: reports "scor", not
its metric "score".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from syne_tune.config_space import randint, uniform

from objectives import Objective, TrialRun

SPACE = {"x": uniform(0.0, 1.0), "y": randint(1, 10)}


def final_score(config: dict) -> float:
    return 1.0 - (config["x"] - 0.3) ** 2 - 0.01 * (config["y"] - 7) ** 2


def preloaded() -> float:
    """1.0 in a trial forked from the warm backend's forkserver after it preloaded the objective
    (experiments/backends/warm_preload.py), else 0.0."""
    module = sys.modules.get("experiments.backends.warm_preload")
    return float(getattr(module, "_objective", None) is not None)


def train(config: dict, run: TrialRun, fail_at: int | None = None, kill_at: int | None = None) -> None:
    checkpoint = Path(run.checkpoint_dir) / "progress.json" if run.checkpoint_dir else None
    first = json.loads(checkpoint.read_text())["step"] + 1 if checkpoint and checkpoint.exists() else 1
    for step in range(first, run.max_resource + 1):
        time.sleep(0.02)
        if step == fail_at:
            raise RuntimeError(f"toy failure at step {step}")
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if checkpoint:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.write_text(json.dumps({"step": step}))
        run.report(step=step, score=final_score(config) * (1 - 0.5 / step), preloaded=preloaded())


quadratic = Objective(name="quadratic", search_space=SPACE, max_resource=8, train=train,
                      metric="score", mode="max", resource_attr="step",
                      default_config={"x": 0.5, "y": 5}, description="a toy maximisation")

crashing = Objective(name="crashing", search_space=SPACE, max_resource=4,
                     train=lambda config, run: train(config, run, fail_at=2),
                     metric="score", mode="max", resource_attr="step")

killed = Objective(name="killed", search_space=SPACE, max_resource=4,
                   train=lambda config, run: train(config, run, kill_at=2),
                   metric="score", mode="max", resource_attr="step")


def interrupt_launcher_once(config: dict, run: TrialRun, report_first: bool = True) -> None:
    """Train; the first trial to finish step 1 then interrupts its launcher (the ancestor
    process running a launcher script) at once, as a Ctrl-C could by chance, and records its
    trial id in the file named by $TOY_INTERRUPT_MARKER. It has saved its checkpoint of step 1
    and, with `report_first`, reported the step; without, the interruption takes the report."""
    import psutil

    def report(**metrics):
        first = metrics["step"] == 1 and claim_marker(run)
        if report_first or not first:
            run.report(**metrics)
        if not first:
            return
        launcher = next(p for p in psutil.Process().parents() if any("experiments/run_" in part
                                                                      for part in p.cmdline()))
        launcher.send_signal(signal.SIGINT)
        time.sleep(3600)  # until the launcher ends this trial

    train(config, TrialRun(report=report, max_resource=run.max_resource,
                           checkpoint_dir=run.checkpoint_dir, data=run.data, threads=run.threads,
                           seed=run.seed))


def claim_marker(run: TrialRun) -> bool:
    """Write this trial's id into $TOY_INTERRUPT_MARKER, unless another trial did first."""
    try:
        fd = os.open(os.environ["TOY_INTERRUPT_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, Path(run.checkpoint_dir).parent.name.encode())  # the trial folder: its id
    os.close(fd)
    return True


interrupting = Objective(name="interrupting", search_space=SPACE, max_resource=4,
                         train=interrupt_launcher_once, metric="score", mode="max",
                         resource_attr="step")

interrupting_before_report = Objective(
    name="interrupting_before_report", search_space=SPACE, max_resource=4,
    train=lambda config, run: interrupt_launcher_once(config, run, report_first=False),
    metric="score", mode="max", resource_attr="step")


def diverge_above_half(config: dict, run: TrialRun) -> None:
    """`train`, but x above 0.5 stands for a learning rate too high: such a trial reports NaN
    (odd y) or +inf (even y: for a maximised score, +inf would rank first) at every step."""
    if config["x"] <= 0.5:
        return train(config, run)
    for step in range(1, run.max_resource + 1):
        time.sleep(0.02)
        run.report(step=step, score=float("nan") if config["y"] % 2 else float("inf"))


diverging = Objective(name="diverging", search_space=SPACE, max_resource=8, train=diverge_above_half,
                      metric="score", mode="max", resource_attr="step")

# reports its metric under another name than the one it declares
misreporting = Objective(name="misreporting", search_space=SPACE, max_resource=4,
                         train=lambda config, run: run.report(step=1, scor=config["x"]),
                         metric="score", mode="max", resource_attr="step")
