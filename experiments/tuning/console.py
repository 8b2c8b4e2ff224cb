"""What a launcher prints: the plan in one line before tuning, the summary after."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from analysis.experiment_folder import describe_limits
from analysis.summarize import format_summary, summarize_experiment
from experiments.tuning.plan import RunPlan
from experiments.tuning.run import RunEnded, deliver_sigterm_as_interrupt


def describe(plan: RunPlan) -> str:
    if plan.simulated:
        data = f"simulated from recorded curves ({plan.simulation.startup_s:g} s start-up per trial)"
    elif plan.data is None:
        data = "the objective's own data"
    else:
        data = f"{'synthetic' if plan.smoke else 'real'} data"
    where = ""
    if plan.cluster is not None:
        where = (f", on a Ray cluster of {len(plan.cluster.nodes)} node(s) ({plan.cluster.cpus} "
                 f"CPUs, {plan.cluster.gpus} GPUs)")
    elif plan.n_gpus:
        where = f", {plan.n_gpus} GPU(s), {plan.trials_per_gpu} trial(s) per GPU"
    limits = describe_limits(plan.budget_s, plan.max_results, plan.max_trials, plan.simulated)
    return (f"Tuning {plan.objective.name} with {plan.method}: {plan.n_workers} worker(s), "
            f"{plan.threads_per_trial} thread(s) per trial, until {limits}, {data}{where}")


def print_summary(experiment_dir: Path) -> None:
    print()
    print(format_summary(summarize_experiment(experiment_dir)))
    print(f"\nExperiment {experiment_dir.name} written to {experiment_dir}")


def run_and_summarize(run: Callable[[], Path]) -> Path:
    """A launcher's last step: run (SIGTERM delivered like Ctrl-C), print the summary, and exit
    with RunEnded's code when the run ended early."""
    deliver_sigterm_as_interrupt()
    try:
        experiment_dir = run()
    except RunEnded as ended:
        print_summary(ended.experiment_dir)
        print(f"error: {ended}", file=sys.stderr)
        sys.exit(ended.exit_code)
    print_summary(experiment_dir)
    return experiment_dir
