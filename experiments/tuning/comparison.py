"""Compare methods fairly: the same objective, workers, budget, search space and paired seeds.

A comparison runs every method once per seed (seed 0 of each method first, so that an early
stop leaves every method with the same seeds) and writes one experiment per run, named
`COMPARISON-METHOD-sSEED`; each run's metadata names the comparison, the method and the seed,
so the analysis groups runs without parsing names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from experiments.schedulers import METHODS, RAY_TUNE_ASHA, RungSettings
from experiments.tuning.plan import RunPlan, RunRequest, check_installed, check_name, make_plan
from experiments.tuning.run import RunEnded, run_plan
from objectives.usage import UsageError


@dataclass(frozen=True)
class ComparisonRequest:
    run: RunRequest  # the settings every run shares (its method and seed are replaced)
    methods: tuple[str, ...]
    seeds: int
    name: str | None = None


@dataclass(frozen=True)
class Comparison:
    name: str
    plans: list[RunPlan]

    @property
    def results_dir(self) -> Path:
        return self.plans[0].results_dir


def default_name() -> str:
    return "cmp-" + time.strftime("%Y%m%d-%H%M%S")


def check_methods(methods) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UsageError(f"--methods {','.join(methods)}: unknown "
                         f"{', '.join(unknown) or 'none given'}; choose from {', '.join(METHODS)}")
    for method in methods:
        check_installed(method)


def run_requests(request: ComparisonRequest, name: str) -> list[RunRequest]:
    """One request per method and seed, seed by seed, each named COMPARISON-METHOD-sSEED and
    tagged with its comparison and method."""
    return [request.run.replace(method=method, seed=seed, experiment_name=f"{name}-{method}-s{seed}",
                                tags={"comparison": name, "method": method}, timestamp_name=False)
            for seed in range(request.run.seed, request.run.seed + request.seeds)
            for method in request.methods]


def plan_comparison(request: ComparisonRequest) -> Comparison:
    """Check everything first: a bad flag fails before any run starts."""
    check_methods(request.methods)
    if request.seeds < 1:
        raise UsageError(f"--seeds {request.seeds}: need at least 1")
    name = request.name or default_name()
    check_name("--comparison-name", name)
    return checked_comparison(name, run_requests(request, name))


def checked_comparison(name: str, requests: list[RunRequest]) -> Comparison:
    """The runs' plans, none of whose experiments may exist yet."""
    plans = []
    for run in requests:
        if run.method == RAY_TUNE_ASHA:
            from experiments.tuning.ray_tune import make_ray_tune_plan

            plans.append(make_ray_tune_plan(run.replace(backend="ray")))
        else:
            plans.append(make_plan(run))
    taken = [p.experiment_name for p in plans if (p.results_dir / p.experiment_name).exists()]
    if taken:
        raise UsageError(f"comparison {name} already has runs in {plans[0].results_dir} "
                         f"({taken[0]}, ...): choose another --comparison-name")
    return Comparison(name, plans)


@dataclass(frozen=True)
class Variant:
    """A method at rung settings of its own, under its own label in a comparison (where one
    method runs at two settings, or methods each at their best)."""

    label: str  # the comparison's name for it; name characters only
    method: str
    settings: RungSettings


def variant_requests(run: RunRequest, variants: tuple[Variant, ...], seeds: int, name: str) -> list[RunRequest]:
    """The runs of a comparison of variants: like `run_requests`, each at its variant's settings
    and named COMPARISON-LABEL-sSEED, seed 0 of every variant first."""
    check_methods(tuple(v.method for v in variants))
    check_name("--comparison-name", name)
    return [run.replace(method=v.method, grace_period=v.settings.grace_period,
                        reduction_factor=v.settings.reduction_factor, seed=seed,
                        experiment_name=f"{name}-{v.label}-s{seed}", timestamp_name=False,
                        tags={"comparison": name, "method": v.label})
            for seed in range(run.seed, run.seed + seeds) for v in variants]


def run_comparison(comparison: Comparison, say: Callable[[str], None] = print) -> list[Path]:
    """Run every planned run; a run that fails too often is recorded and the comparison goes
    on, an interruption stops it (RunEnded propagates). Returns the experiment folders."""
    from experiments.tuning.ray_tune import run_ray_tune

    folders = []
    for index, plan in enumerate(comparison.plans, start=1):
        say(f"\n=== run {index}/{len(comparison.plans)}: {plan.method}, seed {plan.seed} ===")
        run = run_ray_tune if plan.method == RAY_TUNE_ASHA else run_plan
        try:
            folders.append(run(plan))
        except RunEnded as ended:
            if ended.exit_code != 1:  # interrupted: stop the comparison
                raise
            say(f"run {index}/{len(comparison.plans)} ended early: {ended}")
            folders.append(ended.experiment_dir)
    return folders
