"""A comparison of methods (experiments/compare.py writes one experiment per method and seed):
per-run figures, per-method summaries with their uncertainty, paired differences to a reference
method, and a ranking that says "undecided" where the seeds cannot tell.

Statistics are those of `analysis.statistics`: IQM with 95% bootstrap intervals for what every
run has (final best, utilization, ...); the censored median for time to target, a run that
never reaches the target counting as taking forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import experiment_folder as folder
from analysis import statistics as stats
from analysis.experiments import comparison_run_folders, load, resolve_comparison
from analysis.metrics import trial_segments, wallclock_seconds, worker_utilization

TIME_TO_TARGET = "time_to_target_s"
REFERENCE_METHOD = "asha"  # differences are taken to it where it is in the comparison


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


# -- per method ---------------------------------------------------------------------------------


def fields_of(metric: str) -> list[str]:
    return [f"final_best_{metric}", TIME_TO_TARGET, "trials", "epochs", "worker_utilization", "idle_worker_s"]


def censored(times: list) -> list[float]:
    return [math.inf if t is None else float(t) for t in times]


def summarize_field(field: str, values: list) -> dict:
    if field == TIME_TO_TARGET:
        times = censored(values)
        summary = stats.summarize(times, stats.censored_median).as_dict()
        summary["statistic"] = "median, misses as infinite"
        summary["reached"] = sum(math.isfinite(t) for t in times)
        summary["runs"] = len(times)
        return summary
    present = [v for v in values if v is not None]
    summary = stats.summarize(present, stats.iqm).as_dict()
    summary["statistic"] = "IQM"
    return summary


def paired(runs_a: list[dict], runs_b: list[dict], field: str) -> tuple[list, list]:
    """The two methods' values of `field` on the seeds both ran."""
    by_seed = {r["seed"]: r[field] for r in runs_b}
    pairs = [(r[field], by_seed[r["seed"]]) for r in runs_a if r["seed"] in by_seed]
    return [a for a, _ in pairs], [b for _, b in pairs]


def difference(runs_a: list[dict], runs_b: list[dict], field: str) -> dict:
    a, b = paired(runs_a, runs_b, field)
    if field == TIME_TO_TARGET:
        value, low, high = stats.paired_difference(censored(a), censored(b), stats.censored_median)
    else:
        keep = [i for i, (x, y) in enumerate(zip(a, b)) if x is not None and y is not None]
        value, low, high = stats.paired_difference([a[i] for i in keep], [b[i] for i in keep], stats.iqm)
    summary = stats.Summary(value, low, high, len(a)).as_dict()
    summary["resolved"] = stats.resolved(low, high)
    return summary


def compare(spec: str, results_dir: Path | None = None, target: float | None = None,
            runs: list[Run] | None = None) -> dict:
    """The comparison as one JSON-ready dict: for each method its runs and summary; for each
    method but the reference, its paired differences to the reference. The target: `target`,
    else the one the runs were given (a study's), else the median of the runs' final bests.
    `runs`: the comparison's runs, where the caller has loaded them already."""
    name = resolve_comparison(spec, results_dir)
    runs = runs if runs is not None else load_runs(name, results_dir)
    first = runs[0].metadata
    metric, mode = folder.metric_of(first), folder.mode_of(first)
    if target is None and first.get(folder.TARGET) is not None:
        target = float(first[folder.TARGET])
    if target is None:
        finals = [run_figures(r, math.inf if mode == "min" else -math.inf)[f"final_best_{metric}"] for r in runs]
        finals = [f for f in finals if f is not None]
        target = float(np.median(finals)) if finals else math.nan
    methods = {}
    for method in sorted({r.method for r in runs}, key=lambda m: (m != REFERENCE_METHOD, m)):
        per_run = [run_figures(r, target) for r in runs if r.method == method]
        summary = {field: summarize_field(field, [f[field] for f in per_run]) for field in fields_of(metric)}
        methods[method] = {"runs": per_run, "summary": summary}
    reference = REFERENCE_METHOD if REFERENCE_METHOD in methods else next(iter(methods))
    for method, entry in methods.items():
        if method != reference:
            entry["difference_to"] = reference
            entry["differences"] = {field: difference(entry["runs"], methods[reference]["runs"], field)
                                    for field in fields_of(metric)}
    return {
        "comparison": name,
        "objective": first.get(folder.OBJECTIVE),
        "metric": metric,
        "mode": mode,
        "n_workers": first.get(folder.N_WORKERS),
        "max_wallclock_time": first.get(folder.BUDGET_S),
        "max_results": first.get(folder.MAX_RESULTS),
        "max_trials": first.get(folder.MAX_TRIALS),
        "smoke": bool(first.get(folder.SMOKE, False)),
        "simulated": bool(first.get(folder.SIMULATED, False)),
        "target": target,
        "target_error": target,  # the name earlier versions used
        "reference": reference,
        "methods": methods,
        "ranking": ranking(methods, metric, mode),
    }


def ranking(methods: dict, metric: str, mode: str) -> dict:
    """Per field, methods best first; each with whether the seeds separate it from the leader
    (its paired difference to the leader excludes 0) or it is undecided."""
    order = {}
    for field, better_low in ((f"final_best_{metric}", mode == "min"), (TIME_TO_TARGET, True)):
        def key(method):
            value = _number(methods[method]["summary"][field]["value"])
            value = math.inf if math.isnan(value) else value
            return value if better_low else -value

        ranked = sorted(methods, key=key)
        leader = ranked[0]
        order[field] = [{"method": m, "separated_from_leader": m != leader and difference(
            methods[m]["runs"], methods[leader]["runs"], field)["resolved"]} for m in ranked]
    return order


def verdict(comparison: dict, field: str = TIME_TO_TARGET) -> str:
    """One sentence a reader can act on."""
    ranked = comparison["ranking"][field]
    tied = [r["method"] for r in ranked[1:] if not r["separated_from_leader"]]
    what = "reaches the target first" if field == TIME_TO_TARGET else "ends with the best result"
    workers = comparison["n_workers"]
    with_workers = f"With {workers} worker{'' if workers == 1 else 's'}"
    leader_value = _number(comparison["methods"][ranked[0]["method"]]["summary"][field]["value"])
    if not math.isfinite(leader_value):
        return f"{with_workers}, no method reaches the target in most seeds (every median is never)."
    lead = f"{with_workers}, {ranked[0]['method']} {what}"
    if len(ranked) == 1:
        return lead + " (the only method)."
    return lead + (f"; undecided against {', '.join(tied)}." if tied else
                   "; the seeds separate it from every other method.")


# -- tables -------------------------------------------------------------------------------------------


def table_frame(comparison: dict) -> pd.DataFrame:
    """One numeric row per method: each summary's value, interval ends and counts; the paired
    difference to the reference and whether it is resolved."""
    rows = []
    for method, entry in comparison["methods"].items():
        row = {"method": method, "seeds": len(entry["runs"])}
        for field, summary in entry["summary"].items():
            row[field] = summary["value"]
            row[f"{field}_low"], row[f"{field}_high"] = summary["ci95"]
            if field == TIME_TO_TARGET:
                row[f"{field}_reached"] = summary["reached"]
        for field, diff in entry.get("differences", {}).items():
            row[f"{field}_minus_{entry['difference_to']}"] = diff["value"]
            row[f"{field}_difference_resolved"] = diff["resolved"]
        rows.append(row)
    return pd.DataFrame(rows).replace({"inf": math.inf, "-inf": -math.inf})


def _number(value) -> float:
    """A summary value as a float ("inf" and None as JSON carries them)."""
    if value is None:
        return math.nan
    return float(value)


def _show(value) -> str:
    value = _number(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return f"{value:.4g}"


def _signed(value) -> str:
    value = _number(value)
    return ("+" if value >= 0 else "") + _show(value)


def text_rows(comparison: dict) -> list[dict]:
    """The table as text a person reads: value [interval], the difference to the reference."""
    rows = []
    for method, entry in comparison["methods"].items():
        row = {"method": method, "seeds": len(entry["runs"])}
        for field, s in entry["summary"].items():
            text = f"{_show(s['value'])} [{_show(s['ci95'][0])}, {_show(s['ci95'][1])}]"
            if field == TIME_TO_TARGET:
                text += f" ({s['reached']}/{s['runs']} reached)"
            diff = entry.get("differences", {}).get(field)
            if diff is not None:
                text += (f"; {_signed(diff['value'])} vs {entry['difference_to']}"
                         f"{' *' if diff['resolved'] else ''}")
            row[field] = text
        rows.append(row)
    return rows


def caption(comparison: dict) -> list[str]:
    """What was compared, and how to read the table: two lines."""
    limits = folder.describe_limits(comparison["max_wallclock_time"], comparison.get("max_results"),
                                    comparison.get("max_trials"), comparison["simulated"])
    return [f"Comparison {comparison['comparison']}: {comparison['objective']}, "
            f"{comparison['n_workers']} workers, each run until {limits}, target "
            f"{comparison['metric']} {_show(comparison['target'])}",
            "IQM [95% bootstrap interval] over seeds (time to target: median, misses counted as "
            "never); '; d vs X *': paired difference to X, * where its interval excludes 0"]


def format_table(comparison: dict) -> str:
    return "\n".join([*caption(comparison), pd.DataFrame(text_rows(comparison)).to_string(index=False),
                      verdict(comparison)])


def to_markdown(comparison: dict) -> str:
    rows = text_rows(comparison)
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


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
