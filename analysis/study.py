"""A study: comparisons of the same methods at several worker counts on several benchmarks
(experiments/study.py runs one; each comparison is named STUDY-BENCHMARK-wWORKERS).

For every comparison it takes `analysis.comparison`'s numbers (IQM with 95% bootstrap
intervals, the censored median time to target, paired differences to ASHA, the ranking that
says "undecided"), and puts them side by side: one table row per benchmark, worker count and
method, one ranking sentence per benchmark and worker count, and per benchmark one figure
with a column of panels per worker count (regret over time above, fraction of seeds at the
target below).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from analysis.comparison import TIME_TO_TARGET, compare, load_runs, verdict
from analysis.experiments import comparison_names


def comparison_name(study: str, benchmark: str, workers: int) -> str:
    return f"{study}-{benchmark}-w{workers}"


def study_comparisons(study: str, results_dir: Path) -> dict[str, dict[int, str]]:
    """{benchmark: {workers: comparison name}} of the study's comparisons in `results_dir`."""
    pattern = re.compile(rf"{re.escape(study)}-(.+)-w(\d+)$")
    found: dict[str, dict[int, str]] = {}
    for name in comparison_names(results_dir):
        match = pattern.match(name)
        if match:
            found.setdefault(match.group(1), {})[int(match.group(2))] = name
    return {b: dict(sorted(w.items())) for b, w in sorted(found.items())}


def analyse(study: str, results_dir: Path, figures_dir: Path | None = None,
            say=lambda text: None) -> dict:
    """{benchmark: {workers: comparison dict}}; with `figures_dir`, also draws each
    benchmark's figure there (study-BENCHMARK.png) and returns the files under "figures"."""
    found = study_comparisons(study, results_dir)
    if not found:
        raise ValueError(f"no comparisons of study {study!r} in {results_dir}")
    analysed: dict = {"study": study, "benchmarks": {}, "figures": []}
    for benchmark, by_workers in found.items():
        loaded = {}
        for workers, name in by_workers.items():
            say(f"analysing {name} ...")
            runs = load_runs(name, results_dir)
            loaded[workers] = (runs, compare(name, results_dir, runs=runs))
        analysed["benchmarks"][benchmark] = {w: c for w, (_, c) in loaded.items()}
        if figures_dir is not None:
            from analysis.figure_files import save_figure

            path = Path(figures_dir) / f"study-{benchmark}.png"
            save_figure(study_figure(benchmark, loaded), path)
            analysed["figures"].append(str(path))
    return analysed


def study_figure(benchmark: str, loaded: dict):
    """A column per worker count: regret of the best result so far (IQM over seeds, 95%
    band, log scale) above, the fraction of seeds at the target below."""
    import matplotlib.pyplot as plt

    from analysis.comparison_plots import plot_best_so_far, plot_reached

    columns = len(loaded)
    fig, axes = plt.subplots(2, columns, figsize=(4.2 * columns, 7.5), squeeze=False, sharex="col")
    for column, (workers, (runs, comparison)) in enumerate(loaded.items()):
        plot_best_so_far(runs, comparison, axes[0][column], legend=False)
        plot_reached(runs, comparison, axes[1][column], legend=False)
        axes[0][column].set_title(f"{workers} worker{'s' if workers > 1 else ''}", fontsize=10)
        axes[1][column].set_title("")
        axes[0][column].set_xlabel("")
        if column:
            axes[0][column].set_ylabel("")
            axes[1][column].set_ylabel("")
    handles, labels = axes[1][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
    any_comparison = next(iter(loaded.values()))[1]
    fig.suptitle(f"{benchmark}, simulated: regret (top) and fraction of seeds at {any_comparison['metric']} "
                 f"{any_comparison['target']:.4g} (bottom), by workers", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return fig


# -- tables -------------------------------------------------------------------------------------


def _float(value) -> float:
    """A summary's number as a float: JSON's None is NaN, "inf" (never reached) is infinite."""
    return math.nan if value is None else float(value)


def value_and_interval(summary: dict) -> tuple[float, float, float]:
    low, high = summary["ci95"]
    return _float(summary["value"]), _float(low), _float(high)


def table_rows(analysed: dict) -> list[dict]:
    """One row per benchmark, worker count and method: numbers only (CSV)."""
    rows = []
    for benchmark, by_workers in analysed["benchmarks"].items():
        for workers, comparison in by_workers.items():
            metric = comparison["metric"]
            final = f"final_best_{metric}"
            for method, entry in comparison["methods"].items():
                summary, diffs = entry["summary"], entry.get("differences", {})
                row = {"benchmark": benchmark, "workers": workers, "method": method,
                       "seeds": summary[final]["n"], "target": comparison["target"]}
                for field, short in ((final, "final_best"), (TIME_TO_TARGET, "time_to_target_s")):
                    row[short], row[f"{short}_low"], row[f"{short}_high"] = value_and_interval(summary[field])
                    if field in diffs:
                        (row[f"{short}_diff_to_asha"], row[f"{short}_diff_low"],
                         row[f"{short}_diff_high"]) = value_and_interval(diffs[field])
                        row[f"{short}_diff_resolved"] = diffs[field]["resolved"]
                row["reached"] = summary[TIME_TO_TARGET]["reached"]
                row["worker_utilization"] = _float(summary["worker_utilization"]["value"])
                rows.append(row)
    return rows


def _number(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    return f"{value:.{digits}g}"


def _interval(row: dict, key: str, digits: int = 4) -> str:
    return f"{_number(row[key], digits)} [{_number(row[key + '_low'], digits)}, {_number(row[key + '_high'], digits)}]"


def _difference(row: dict, key: str, digits: int = 3) -> str:
    if f"{key}_diff_to_asha" not in row:
        return "(reference)"
    mark = " *" if row[f"{key}_diff_resolved"] else ""
    return (f"{_number(row[f'{key}_diff_to_asha'], digits)} [{_number(row[f'{key}_diff_low'], digits)}, "
            f"{_number(row[f'{key}_diff_high'], digits)}]{mark}")


def markdown(analysed: dict) -> str:
    """Per benchmark: the ranking sentences, then the table (IQM [95% interval]; time to
    target: median with misses as never; d: paired difference to ASHA, * where resolved)."""
    rows = table_rows(analysed)
    parts = []
    for benchmark, by_workers in analysed["benchmarks"].items():
        any_comparison = next(iter(by_workers.values()))
        parts.append(f"### {benchmark}: target {any_comparison['metric']} {any_comparison['target']:.4g}, "
                     f"{any_comparison['max_wallclock_time']:g} simulated s per run\n")
        parts += [f"- {sentence}" for sentence in ranking_sentences(by_workers)]
        parts.append("")
        parts.append("| workers | method | seeds | final best (IQM) | d final vs asha | time to target, s "
                     "(median) | reached | d time vs asha | utilization |")
        parts.append("|---|---|---|---|---|---|---|---|---|")
        for row in (r for r in rows if r["benchmark"] == benchmark):
            parts.append(
                f"| {row['workers']} | {row['method']} | {row['seeds']} | {_interval(row, 'final_best')} | "
                f"{_difference(row, 'final_best', 2)} | {_interval(row, 'time_to_target_s', 3)} | "
                f"{row['reached']}/{row['seeds']} | {_difference(row, 'time_to_target_s', 3)} | "
                f"{_number(row['worker_utilization'], 3)} |")
        parts.append("")
    return "\n".join(parts)


def ranking_sentences(by_workers: dict) -> list[str]:
    """"With W workers, X reaches the target first; undecided against Y" per worker count."""
    return [verdict(comparison) for comparison in by_workers.values()]


def leaders(analysed: dict, field: str = TIME_TO_TARGET) -> pd.DataFrame:
    """benchmark, workers, the leading method by `field`, and the methods the seeds cannot
    separate from it."""
    rows = []
    for benchmark, by_workers in analysed["benchmarks"].items():
        for workers, comparison in by_workers.items():
            ranked = comparison["ranking"][field]
            rows.append({"benchmark": benchmark, "workers": workers, "leader": ranked[0]["method"],
                         "undecided_against": ",".join(r["method"] for r in ranked[1:]
                                                       if not r["separated_from_leader"])})
    return pd.DataFrame(rows)


def best_model_based(analysed: dict, model_based: set[str], benchmark: str, workers: int) -> str | None:
    """The model-based method with the lowest median time to target (then final best) at
    `workers` on `benchmark`."""
    comparison = analysed["benchmarks"].get(benchmark, {}).get(workers)
    if comparison is None:
        return None
    final = f"final_best_{comparison['metric']}"
    candidates = [m for m in comparison["methods"] if m in model_based]

    def key(method):
        summary = comparison["methods"][method]["summary"]
        return (_float(summary[TIME_TO_TARGET]["value"]), _float(summary[final]["value"]))

    return min(candidates, key=key) if candidates else None


# -- the settings sweep ----------------------------------------------------------------------


def sweep_rows(study: str, results_dir: Path) -> list[dict]:
    """Per grace period, reduction factor and method of the sweep (STUDY-sweep-gG-rR): median
    time to target with its interval, how many seeds reached it, final best."""
    pattern = re.compile(rf"{re.escape(study)}-sweep-g(\d+)-r(\d+)$")
    rows = []
    for name in comparison_names(results_dir):
        match = pattern.match(name)
        if not match:
            continue
        comparison = compare(name, results_dir)
        final = f"final_best_{comparison['metric']}"
        for method, entry in comparison["methods"].items():
            time, best = entry["summary"][TIME_TO_TARGET], entry["summary"][final]
            value, low, high = value_and_interval(time)
            rows.append({"grace_period": int(match.group(1)), "reduction_factor": int(match.group(2)),
                         "method": method, "seeds": time["runs"], "time_to_target_s": value,
                         "time_to_target_s_low": low, "time_to_target_s_high": high,
                         "reached": time["reached"], "final_best": _float(best["value"])})
    return sorted(rows, key=lambda r: (r["method"], r["grace_period"], r["reduction_factor"]))


def sweep_markdown(rows: list[dict], default: tuple[int, int]) -> str:
    lines = ["| method | grace period | reduction factor | time to target, s (median [95%]) | reached | "
             "final best (IQM) |", "|---|---|---|---|---|---|"]
    for row in rows:
        mark = " (default)" if (row["grace_period"], row["reduction_factor"]) == default else ""
        lines.append(f"| {row['method']} | {row['grace_period']}{mark} | {row['reduction_factor']} | "
                     f"{_interval(row, 'time_to_target_s', 3)} | {row['reached']}/{row['seeds']} | "
                     f"{_number(row['final_best'])} |")
    return "\n".join(lines)


def frame_markdown(frame: pd.DataFrame) -> str:
    """A data frame as a Markdown table (without the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_number(v) if isinstance(v, float) else str(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)
