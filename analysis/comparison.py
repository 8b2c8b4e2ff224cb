"""A comparison of methods (experiments/compare.py writes one experiment per method and seed):
per-run figures, per-method summaries with their uncertainty, paired differences to a reference
method, and a ranking that says "undecided" where the seeds cannot tell.

Statistics are those of `analysis.statistics`: IQM with 95% bootstrap intervals for what every
run has (final best, utilization, ...); the censored median for time to target, a run that
never reaches the target counting as taking forever.

The result is typed (`Comparison`, its `MethodResult`s, their `FieldSummary`s and
`Difference`s): it writes itself as JSON (`to_json`, the shape `python -m analysis.compare
--json` prints), CSV (`frame`) and text (`to_markdown`, `to_text`), and reads back comparison.json
files, those of earlier versions included (`Comparison.from_json`, `load_comparison`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import experiment_folder as folder
from analysis import statistics as stats
from analysis.experiments import comparison_run_folders, load, resolve_comparison
from analysis.metrics import trial_segments, wallclock_seconds, worker_utilization
from analysis.tables import as_float, json_number, markdown_table, show, show_interval, show_signed, text_table

TIME_TO_TARGET = "time_to_target_s"
TUNER_CPU_S = "tuner_cpu_s"  # the tuner process's CPU seconds (experiment_folder.TUNER_CPU_S)
REFERENCE_METHOD = "asha"  # differences are taken to it where it is in the comparison
# the statistics a summary names (FieldSummary.statistic)
IQM = "IQM"
CENSORED_MEDIAN = "median, misses as infinite"


@dataclass
class Run:
    method: str
    seed: int
    experiment: object  # syne_tune ExperimentResult

    @property
    def results(self) -> pd.DataFrame:
        return self.experiment.results

    @property
    def metadata(self) -> dict:
        return self.experiment.metadata


# -- finding and loading --------------------------------------------------------------------------


def load_runs(name: str, results_dir: Path | None = None) -> list[Run]:
    runs = []
    for path in comparison_run_folders(name, results_dir):
        metadata = folder.read_metadata(path)
        runs.append(Run(folder.method_of(metadata), int(metadata[folder.SEED]), load(str(path))))
    return sorted(runs, key=lambda r: (r.method, r.seed))


# -- per run ----------------------------------------------------------------------------------------


def best_so_far(run: Run, times: np.ndarray) -> np.ndarray:
    """The best metric value reported up to each time (NaN before the first report)."""
    metric, mode = folder.metric_of(run.metadata), folder.mode_of(run.metadata)
    results = run.results
    if results is None or results.empty or metric not in results:
        return np.full(len(times), np.nan)
    ordered = results.sort_values("st_tuner_time")
    values = ordered[metric]
    best = (values.cummin() if mode == "min" else values.cummax()).to_numpy()
    index = np.searchsorted(ordered["st_tuner_time"].to_numpy(), times, side="right") - 1
    return np.where(index >= 0, best[np.clip(index, 0, None)], np.nan)


def reaches(value: float, target: float, mode: str) -> bool:
    return value <= target if mode == "min" else value >= target


def run_figures(run: Run, target: float) -> dict:
    """What one run achieved: final best, time to the target (None: never reached), trials,
    resource trained, how busy its workers were."""
    results, metadata = run.results, run.metadata
    metric, mode = folder.metric_of(metadata), folder.mode_of(metadata)
    segments = trial_segments(results, metadata)
    wallclock = wallclock_seconds(results, segments)
    n_workers = int(metadata.get(folder.N_WORKERS, 1))
    busy = float((segments["end_s"] - segments["start_s"]).clip(lower=0).sum())
    utilization = worker_utilization(segments, n_workers, wallclock)
    figures = {
        "seed": run.seed,
        "experiment": run.experiment.name,
        f"final_best_{metric}": None,
        TIME_TO_TARGET: None,
        "trials": 0,
        "epochs": 0,
        "worker_utilization": None if utilization is None else round(utilization, 4),
        "idle_worker_s": round(max(n_workers * wallclock - busy, 0.0), 2),
        TUNER_CPU_S: metadata.get(folder.TUNER_CPU_S),  # None: a run recorded before it was
    }
    if results is None or results.empty or metric not in results:
        return figures
    ordered = results.sort_values("st_tuner_time")
    best = ordered[metric].cummin() if mode == "min" else ordered[metric].cummax()
    reached = ordered[best.map(lambda v: reaches(v, target, mode))]
    figures.update({
        f"final_best_{metric}": float(best.iloc[-1]),
        TIME_TO_TARGET: None if reached.empty else round(float(reached["st_tuner_time"].iloc[0]), 2),
        "trials": int(results["trial_id"].nunique()),
        "epochs": int(len(results)),
    })
    return figures


# -- the typed result -------------------------------------------------------------------------------


def _interval_from_json(data) -> tuple[float, float]:
    low, high = data
    return as_float(low), as_float(high)


def _statistic_json(value: float, ci95: tuple[float, float], n: int) -> dict:
    """value, ci95 and n as JSON carries them (what summaries and differences share)."""
    return {"value": json_number(value), "ci95": [json_number(x) for x in ci95], "n": n}


@dataclass(frozen=True)
class FieldSummary:
    """One method's statistic of one field over its runs, with its 95% bootstrap interval;
    for time to target also how many of its runs reached the target."""

    value: float
    ci95: tuple[float, float]
    n: int
    statistic: str  # IQM, or CENSORED_MEDIAN for time to target
    reached: int | None = None  # time to target only
    runs: int | None = None  # time to target only

    def to_json(self) -> dict:
        data = {**_statistic_json(self.value, self.ci95, self.n), "statistic": self.statistic}
        if self.reached is not None:
            data.update(reached=self.reached, runs=self.runs)
        return data

    @classmethod
    def from_json(cls, data: dict) -> FieldSummary:
        return cls(as_float(data["value"]), _interval_from_json(data["ci95"]), int(data["n"]), data["statistic"],
                   data.get("reached"), data.get("runs"))

    def text(self) -> str:
        """value [interval], and for time to target "(reached/runs reached)"."""
        text = show_interval(self.value, *self.ci95)
        return text if self.reached is None else text + f" ({self.reached}/{self.runs} reached)"


@dataclass(frozen=True)
class Difference:
    """A method's statistic minus another's on the seeds both ran, with its 95% interval;
    resolved where the interval excludes 0 (the seeds can tell them apart)."""

    value: float
    ci95: tuple[float, float]
    n: int
    resolved: bool

    def to_json(self) -> dict:
        return {**_statistic_json(self.value, self.ci95, self.n), "resolved": self.resolved}

    @classmethod
    def from_json(cls, data: dict) -> Difference:
        return cls(as_float(data["value"]), _interval_from_json(data["ci95"]), int(data["n"]), bool(data["resolved"]))


@dataclass
class MethodResult:
    """One method of a comparison: each run's figures (a dict per run: seed, experiment, then
    the fields of `fields_of`), the summary per field, and for every method but the
    reference its paired differences to it."""

    runs: list[dict]
    summary: dict[str, FieldSummary]
    difference_to: str | None = None
    differences: dict[str, Difference] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = {"runs": self.runs, "summary": {f: s.to_json() for f, s in self.summary.items()}}
        if self.difference_to is not None:
            data["difference_to"] = self.difference_to
            data["differences"] = {f: d.to_json() for f, d in self.differences.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> MethodResult:
        return cls(list(data["runs"]), {f: FieldSummary.from_json(s) for f, s in data["summary"].items()},
                   data.get("difference_to"),
                   {f: Difference.from_json(d) for f, d in data.get("differences", {}).items()})


@dataclass(frozen=True)
class RankingEntry:
    """A method's place in a ranking: whether the seeds separate it from the leader."""

    method: str
    separated_from_leader: bool

    def to_json(self) -> dict:
        return {"method": self.method, "separated_from_leader": self.separated_from_leader}


@dataclass
class Comparison:
    """A comparison of methods on the same objective, workers, budget and paired seeds."""

    comparison: str  # its name
    objective: str | None
    metric: str
    mode: str  # "min" or "max"
    n_workers: int | None
    max_wallclock_time: float | None
    max_results: int | None
    max_trials: int | None
    smoke: bool
    simulated: bool
    target: float  # the metric value time to target is measured to
    reference: str  # the method the differences are taken to
    methods: dict[str, MethodResult]  # the reference first
    ranking: dict[str, list[RankingEntry]]  # per ranked field, best first

    @property
    def final_field(self) -> str:
        return f"final_best_{self.metric}"

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """The comparison as `python -m analysis.compare --json` prints it."""
        return {"comparison": self.comparison, "objective": self.objective, "metric": self.metric,
                "mode": self.mode, "n_workers": self.n_workers, "max_wallclock_time": self.max_wallclock_time,
                "max_results": self.max_results, "max_trials": self.max_trials, "smoke": self.smoke,
                "simulated": self.simulated, "target": json_number(self.target), "reference": self.reference,
                "methods": {m: entry.to_json() for m, entry in self.methods.items()},
                "ranking": {f: [e.to_json() for e in ranked] for f, ranked in self.ranking.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Comparison:
        """A comparison from its JSON, also as earlier versions wrote it (with "target_error"
        beside "target", the name they used first)."""
        try:
            target = data["target"] if "target" in data else data["target_error"]
            return cls(
                data["comparison"], data.get("objective"), data["metric"], data["mode"], data.get("n_workers"),
                data.get("max_wallclock_time"), data.get("max_results"), data.get("max_trials"),
                bool(data.get("smoke", False)), bool(data.get("simulated", False)), as_float(target),
                data["reference"], {m: MethodResult.from_json(e) for m, e in data["methods"].items()},
                {f: [RankingEntry(e["method"], bool(e["separated_from_leader"])) for e in ranked]
                 for f, ranked in data["ranking"].items()})
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a comparison as analysis.compare writes one: {error!r}") from None

    # -- what a reader reads ----------------------------------------------------------------------

    def verdict(self, field: str = TIME_TO_TARGET) -> str:
        """One sentence a reader can act on."""
        ranked = self.ranking[field]
        tied = [r.method for r in ranked[1:] if not r.separated_from_leader]
        what = "reaches the target first" if field == TIME_TO_TARGET else "ends with the best result"
        workers = self.n_workers
        with_workers = f"With {workers} worker{'' if workers == 1 else 's'}"
        if not math.isfinite(self.methods[ranked[0].method].summary[field].value):
            return f"{with_workers}, no method reaches the target in most seeds (every median is never)."
        lead = f"{with_workers}, {ranked[0].method} {what}"
        if len(ranked) == 1:
            return lead + " (the only method)."
        return lead + (f"; undecided against {', '.join(tied)}." if tied else
                       "; the seeds separate it from every other method.")

    def caption(self) -> list[str]:
        """What was compared, and how to read the table: two lines."""
        limits = folder.describe_limits(self.max_wallclock_time, self.max_results, self.max_trials, self.simulated)
        return [f"Comparison {self.comparison}: {self.objective}, {self.n_workers} workers, each run until "
                f"{limits}, target {self.metric} {show(self.target)}",
                "IQM [95% bootstrap interval] over seeds (time to target: median, misses counted as "
                "never); '; d vs X *': paired difference to X, * where its interval excludes 0"]

    def text_rows(self) -> list[dict]:
        """The table as text a person reads: value [interval], the difference to the reference."""
        rows = []
        for method, entry in self.methods.items():
            row = {"method": method, "seeds": len(entry.runs)}
            for name, summary in entry.summary.items():
                row[name] = summary.text()
                diff = entry.differences.get(name)
                if diff is not None:
                    row[name] += (f"; {show_signed(diff.value)} vs {entry.difference_to}"
                                  f"{' *' if diff.resolved else ''}")
            rows.append(row)
        return rows

    def to_text(self) -> str:
        """The caption, the table and the verdict, as `python -m analysis.compare` prints them."""
        return "\n".join([*self.caption(), text_table(self.text_rows()), self.verdict()])

    def to_markdown(self) -> str:
        rows = self.text_rows()
        return markdown_table(list(rows[0]), [list(row.values()) for row in rows]) + "\n"

    def frame(self) -> pd.DataFrame:
        """One numeric row per method (table.csv): each summary's value, interval ends and
        counts; the paired difference to the reference and whether it is resolved."""
        rows = []
        for method, entry in self.methods.items():
            row = {"method": method, "seeds": len(entry.runs)}
            for name, summary in entry.summary.items():
                row[name] = summary.value
                row[f"{name}_low"], row[f"{name}_high"] = summary.ci95
                if summary.reached is not None:
                    row[f"{name}_reached"] = summary.reached
            for name, diff in entry.differences.items():
                row[f"{name}_minus_{entry.difference_to}"] = diff.value
                row[f"{name}_difference_resolved"] = diff.resolved
            rows.append(row)
        return pd.DataFrame(rows)


def load_comparison(path: Path) -> Comparison:
    """A comparison.json (as analysis.compare writes it, now or before) as a Comparison."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read a comparison: {error}") from None
    try:
        return Comparison.from_json(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


# -- per method ---------------------------------------------------------------------------------


def fields_of(metric: str) -> list[str]:
    return [f"final_best_{metric}", TIME_TO_TARGET, "trials", "epochs", "worker_utilization", "idle_worker_s",
            TUNER_CPU_S]


def censored(times: list) -> list[float]:
    return [math.inf if t is None else float(t) for t in times]


def summarize_field(name: str, values: list) -> FieldSummary:
    if name == TIME_TO_TARGET:
        times = censored(values)
        s = stats.summarize(times, stats.censored_median)
        return FieldSummary(s.value, (s.low, s.high), s.n, CENSORED_MEDIAN,
                            reached=sum(math.isfinite(t) for t in times), runs=len(times))
    s = stats.summarize([v for v in values if v is not None], stats.iqm)
    return FieldSummary(s.value, (s.low, s.high), s.n, IQM)


def paired(runs_a: list[dict], runs_b: list[dict], name: str) -> tuple[list, list]:
    """The two methods' values of field `name` on the seeds both ran."""
    by_seed = {r["seed"]: r[name] for r in runs_b}
    pairs = [(r[name], by_seed[r["seed"]]) for r in runs_a if r["seed"] in by_seed]
    return [a for a, _ in pairs], [b for _, b in pairs]


def difference(runs_a: list[dict], runs_b: list[dict], name: str) -> Difference:
    a, b = paired(runs_a, runs_b, name)
    if name == TIME_TO_TARGET:
        value, low, high = stats.paired_difference(censored(a), censored(b), stats.censored_median)
    else:
        keep = [i for i, (x, y) in enumerate(zip(a, b)) if x is not None and y is not None]
        value, low, high = stats.paired_difference([a[i] for i in keep], [b[i] for i in keep], stats.iqm)
    return Difference(value, (low, high), len(a), stats.resolved(low, high))


def default_target(runs: list[Run], metric: str, mode: str) -> float:
    """The target where none is given: the one the runs were given (a study's), else the
    median of the runs' final bests."""
    first = runs[0].metadata
    if first.get(folder.TARGET) is not None:
        return float(first[folder.TARGET])
    finals = [run_figures(r, math.inf if mode == "min" else -math.inf)[f"final_best_{metric}"] for r in runs]
    finals = [f for f in finals if f is not None]
    return float(np.median(finals)) if finals else math.nan


def compare(spec: str, results_dir: Path | None = None, target: float | None = None,
            runs: list[Run] | None = None) -> Comparison:
    """The comparison: for each method its runs and summary; for each method but the
    reference, its paired differences to the reference. The target: `target`, else
    `default_target`. `runs`: the comparison's runs, where the caller has loaded them already."""
    name = resolve_comparison(spec, results_dir)
    runs = runs if runs is not None else load_runs(name, results_dir)
    if not runs:
        raise ValueError(f"comparison {name} has no runs")
    first = runs[0].metadata
    metric, mode = folder.metric_of(first), folder.mode_of(first)
    target = target if target is not None else default_target(runs, metric, mode)
    methods = {}
    for method in sorted({r.method for r in runs}, key=lambda m: (m != REFERENCE_METHOD, m)):
        per_run = [run_figures(r, target) for r in runs if r.method == method]
        methods[method] = MethodResult(per_run, {f: summarize_field(f, [run[f] for run in per_run])
                                                 for f in fields_of(metric)})
    reference = REFERENCE_METHOD if REFERENCE_METHOD in methods else next(iter(methods))
    for method, entry in methods.items():
        if method != reference:
            entry.difference_to = reference
            entry.differences = {f: difference(entry.runs, methods[reference].runs, f) for f in fields_of(metric)}
    return Comparison(
        comparison=name, objective=first.get(folder.OBJECTIVE), metric=metric, mode=mode,
        n_workers=first.get(folder.N_WORKERS), max_wallclock_time=first.get(folder.BUDGET_S),
        max_results=first.get(folder.MAX_RESULTS), max_trials=first.get(folder.MAX_TRIALS),
        smoke=bool(first.get(folder.SMOKE, False)), simulated=bool(first.get(folder.SIMULATED, False)),
        target=target, reference=reference, methods=methods, ranking=ranking(methods, metric, mode))


def ranking(methods: dict[str, MethodResult], metric: str, mode: str) -> dict[str, list[RankingEntry]]:
    """Per field, methods best first; each with whether the seeds separate it from the leader
    (its paired difference to the leader excludes 0) or it is undecided."""
    order = {}
    for name, better_low in ((f"final_best_{metric}", mode == "min"), (TIME_TO_TARGET, True)):
        def key(method):
            value = methods[method].summary[name].value
            value = math.inf if math.isnan(value) else value
            return value if better_low else -value

        ranked = sorted(methods, key=key)
        leader = ranked[0]
        order[name] = [RankingEntry(m, m != leader and difference(methods[m].runs, methods[leader].runs, name).resolved)
                       for m in ranked]
    return order


def best_at(runs: list[Run], times: list[float]) -> pd.DataFrame:
    """Each run's best metric value reported by each of `times` (tuner seconds), one row per
    run: method, seed, then a column per time ("best_at_120s", ...), NaN before a first report."""
    grid = np.asarray(times, dtype=float)
    rows = []
    for run in runs:
        values = best_so_far(run, grid)
        rows.append({"method": run.method, "seed": run.seed,
                     **{f"best_at_{t:g}s": v for t, v in zip(grid, values)}})
    return pd.DataFrame(rows)
