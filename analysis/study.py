"""A study: comparisons of the same methods at several worker counts on several benchmarks
(experiments/study.py runs one; each comparison is named STUDY-BENCHMARK-wWORKERS).

For every comparison it takes `analysis.comparison`'s numbers (IQM with 95% bootstrap
intervals, the censored median time to target, paired differences to ASHA, the ranking that
says "undecided"), and puts them side by side: one table row per benchmark, worker count and
method, one ranking sentence per benchmark and worker count, and per benchmark one figure
with a column of panels per worker count (regret over time above, fraction of seeds at the
target below).

The result is typed: a `StudyResult` (a `Comparison` per benchmark and worker count) gives a
`StudyTable` of `StudyRow`s (study.csv, the rows of study.json; `load_study_table` reads them
back), the Markdown of study.md, and `best_method`, the one place that says which
model-based method a study ranks first. The settings sweep is a `Sweep` of `SweepRow`s.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from analysis.comparison import (CENSORED_MEDIAN, IQM, TIME_TO_TARGET, TUNER_CPU_S, Comparison, Difference,
                                 FieldSummary, MethodResult, compare, load_runs)
from analysis.comparison import difference as paired_difference
from analysis.experiments import comparison_names
from analysis.tables import as_float, markdown_table, show, show_interval


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
            say=lambda text: None) -> StudyResult:
    """A comparison per benchmark and worker count; with `figures_dir`, also draws each
    benchmark's figure there (study-BENCHMARK.png) and lists the files in `figures`."""
    found = study_comparisons(study, results_dir)
    if not found:
        raise ValueError(f"no comparisons of study {study!r} in {results_dir}")
    analysed = StudyResult(study)
    for benchmark, by_workers in found.items():
        loaded = {}
        for workers, name in by_workers.items():
            say(f"analysing {name} ...")
            runs = load_runs(name, results_dir)
            loaded[workers] = (runs, compare(name, results_dir, runs=runs))
        analysed.benchmarks[benchmark] = {w: c for w, (_, c) in loaded.items()}
        if figures_dir is not None:
            from analysis.figure_files import save_figure

            path = Path(figures_dir) / f"study-{benchmark}.png"
            save_figure(study_figure(benchmark, loaded), path)
            analysed.figures.append(path)
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
    fig.suptitle(f"{benchmark}, simulated: regret (top) and fraction of seeds at {any_comparison.metric} "
                 f"{any_comparison.target:.4g} (bottom), by workers", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return fig


# -- the typed result ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyRow:
    """One benchmark, worker count and method of a study, numbers only (a row of study.csv):
    the final best (IQM) and the median time to target, each with its interval and (but for the
    reference) its paired difference to the reference."""

    benchmark: str
    workers: int
    method: str
    seeds: int
    target: float
    final_best: FieldSummary
    time_to_target_s: FieldSummary
    worker_utilization: float
    final_best_diff: Difference | None = None  # None: the reference
    time_to_target_s_diff: Difference | None = None
    tuner_cpu_s: float | None = None  # per run (IQM); None in a study recorded before runs kept it

    @property
    def reached(self) -> int:
        return self.time_to_target_s.reached

    def as_dict(self) -> dict:
        """The row as study.csv and study.json hold it (the difference columns "_diff_to_asha",
        as the reference is ASHA where the study has it)."""
        row = {"benchmark": self.benchmark, "workers": self.workers, "method": self.method, "seeds": self.seeds,
               "target": self.target}
        for short in ("final_best", "time_to_target_s"):
            summary, diff = getattr(self, short), getattr(self, f"{short}_diff")
            row[short], (row[f"{short}_low"], row[f"{short}_high"]) = summary.value, summary.ci95
            if diff is not None:
                row[f"{short}_diff_to_asha"], (row[f"{short}_diff_low"], row[f"{short}_diff_high"]) = (
                    diff.value, diff.ci95)
                row[f"{short}_diff_resolved"] = diff.resolved
        row["reached"], row["worker_utilization"] = self.reached, self.worker_utilization
        if self.tuner_cpu_s is not None:
            row["tuner_cpu_s"] = self.tuner_cpu_s
        return row

    @classmethod
    def from_dict(cls, row: dict) -> StudyRow:
        """A row as `as_dict` writes it (study.json's "rows")."""
        def summary(short, statistic, **counts):
            interval = as_float(row[f"{short}_low"]), as_float(row[f"{short}_high"])
            return FieldSummary(as_float(row[short]), interval, int(row["seeds"]), statistic, **counts)

        def diff(short):
            if f"{short}_diff_to_asha" not in row:
                return None
            interval = as_float(row[f"{short}_diff_low"]), as_float(row[f"{short}_diff_high"])
            return Difference(as_float(row[f"{short}_diff_to_asha"]), interval, int(row["seeds"]),
                              bool(row[f"{short}_diff_resolved"]))

        seeds = int(row["seeds"])
        return cls(row["benchmark"], int(row["workers"]), row["method"], seeds, as_float(row["target"]),
                   summary("final_best", IQM),
                   summary("time_to_target_s", CENSORED_MEDIAN, reached=int(row["reached"]), runs=seeds),
                   as_float(row["worker_utilization"]), diff("final_best"), diff("time_to_target_s"),
                   as_float(row["tuner_cpu_s"]) if row.get("tuner_cpu_s") is not None else None)

    def markdown_cells(self) -> list[str]:
        """workers, method, seeds, final best [interval], its difference, time to target
        [interval], reached, its difference, utilization, tuner CPU."""
        def difference(diff: Difference | None, digits: int) -> str:
            if diff is None:
                return "(reference)"
            return show_interval(diff.value, *diff.ci95, digits) + (" *" if diff.resolved else "")

        return [self.workers, self.method, self.seeds, show_interval(self.final_best.value, *self.final_best.ci95),
                difference(self.final_best_diff, 2),
                show_interval(self.time_to_target_s.value, *self.time_to_target_s.ci95, 3),
                f"{self.reached}/{self.seeds}", difference(self.time_to_target_s_diff, 3),
                show(self.worker_utilization, 3), show(self.tuner_cpu_s, 3)]


def tuner_cpu(entry: MethodResult) -> float | None:
    """A method's tuner CPU per run (IQM); None where its runs did not record it."""
    summary = entry.summary.get(TUNER_CPU_S)
    return summary.value if summary is not None and summary.n else None


def study_row(benchmark: str, workers: int, method: str, comparison: Comparison) -> StudyRow:
    entry = comparison.methods[method]
    final, time = entry.summary[comparison.final_field], entry.summary[TIME_TO_TARGET]
    return StudyRow(benchmark, workers, method, final.n, comparison.target, final, time,
                    entry.summary["worker_utilization"].value, entry.differences.get(comparison.final_field),
                    entry.differences.get(TIME_TO_TARGET), tuner_cpu(entry))


@dataclass(frozen=True)
class StudyTable:
    """A study's rows, one per benchmark, worker count and method (study.csv)."""

    study: str
    rows: tuple[StudyRow, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([row.as_dict() for row in self.rows])

    def workers_of(self, benchmark: str) -> list[int]:
        return sorted({row.workers for row in self.rows if row.benchmark == benchmark})


def load_study_table(path: Path) -> StudyTable:
    """The rows of a study.json (as experiments/study.py writes it)."""
    try:
        data = json.loads(Path(path).read_text())
        return StudyTable(data["study"], tuple(StudyRow.from_dict(row) for row in data["rows"]))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a study.json as experiments/study.py writes one: {error!r}") from None


# The study whose results the README shows (experiments/figures.py study writes it). Commands
# read it where the user asks for what it found (the scaling study's and the real comparison's
# model-based method); library code takes a study as an argument.
COMMITTED_STUDY = Path(__file__).resolve().parent / "figures" / "study.json"


def committed_study() -> StudyTable | None:
    """The committed study's table; None where there is none."""
    return load_study_table(COMMITTED_STUDY) if COMMITTED_STUDY.exists() else None


def best_method(study: StudyTable, among: set[str], benchmark: str, workers: int) -> str | None:
    """The method of `among` the study ranks first on `benchmark` at `workers`: the lowest
    median time to target, then the best final result (None where it ran none of them there).
    Among Syne Tune's model-based methods it is study.json's "best_model_based"."""
    rows = [r for r in study.rows if r.benchmark == benchmark and r.workers == workers and r.method in among]

    def key(row: StudyRow):
        return row.time_to_target_s.value, row.final_best.value

    return min(rows, key=key).method if rows else None


@dataclass(frozen=True)
class PeerRow:
    """A peer (another library's method) against the best of the suite's own methods on one
    benchmark and worker count: the own method with the lowest median time to target (then
    the best final result), the paired differences peer minus it, and each one's tuner CPU."""

    benchmark: str
    workers: int
    peer: str
    own: str  # the best own method here
    peer_time_s: float  # median time to target, misses as never
    own_time_s: float
    time_diff: Difference  # peer minus own; > 0: the peer is slower
    final_diff: Difference  # peer minus own, final best (IQM); > 0 is worse when minimising
    peer_cpu_s: float | None  # tuner CPU seconds per run (IQM)
    own_cpu_s: float | None

    @property
    def verdict(self) -> str:
        """Who reaches the target sooner, where the seeds separate them: "peer", "own" or
        "undecided"."""
        if not self.time_diff.resolved:
            return "undecided"
        return "own" if self.time_diff.value > 0 else "peer"

    def as_dict(self) -> dict:
        return {"benchmark": self.benchmark, "workers": self.workers, "peer": self.peer, "own": self.own,
                "peer_time_s": self.peer_time_s, "own_time_s": self.own_time_s,
                "time_diff": self.time_diff.to_json(), "final_diff": self.final_diff.to_json(),
                "verdict": self.verdict, "peer_cpu_s": self.peer_cpu_s, "own_cpu_s": self.own_cpu_s}

    def markdown_cells(self, own_name: str) -> list[str]:
        verdict = {"own": f"{own_name} sooner", "peer": "peer sooner", "undecided": "undecided"}[self.verdict]
        return [self.workers, self.peer, self.own, f"{show(self.peer_time_s, 3)} / {show(self.own_time_s, 3)}",
                show_interval(self.time_diff.value, *self.time_diff.ci95, 3),
                show_interval(self.final_diff.value, *self.final_diff.ci95, 2), verdict,
                f"{show(self.peer_cpu_s, 2)} / {show(self.own_cpu_s, 2)}"]


def peer_row(benchmark: str, workers: int, peer: str, own: str, comparison: Comparison) -> PeerRow:
    peer_entry, own_entry = comparison.methods[peer], comparison.methods[own]
    return PeerRow(benchmark, workers, peer, own, peer_entry.summary[TIME_TO_TARGET].value,
                   own_entry.summary[TIME_TO_TARGET].value,
                   paired_difference(peer_entry.runs, own_entry.runs, TIME_TO_TARGET),
                   paired_difference(peer_entry.runs, own_entry.runs, comparison.final_field),
                   tuner_cpu(peer_entry), tuner_cpu(own_entry))


def best_own(comparison: Comparison, peers: set[str]) -> str | None:
    """The suite's own method (not a peer) with the lowest median time to target, then the best
    final result; None where the comparison has none."""
    sign = 1 if comparison.mode == "min" else -1
    own = [m for m in comparison.methods if m not in peers]

    def key(method: str):
        summary = comparison.methods[method].summary
        return summary[TIME_TO_TARGET].value, sign * summary[comparison.final_field].value

    return min(own, key=key) if own else None


@dataclass
class StudyResult:
    """A study's comparisons: {benchmark: {workers: Comparison}}, and its figures' files."""

    study: str
    benchmarks: dict[str, dict[int, Comparison]] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)

    @property
    def table(self) -> StudyTable:
        return StudyTable(self.study, tuple(study_row(b, w, m, c) for b, by_workers in self.benchmarks.items()
                                            for w, c in by_workers.items() for m in c.methods))

    def best_model_based(self, model_based: set[str]) -> dict[str, dict[int, str | None]]:
        """{benchmark: {workers: the model-based method ranked first}} (study.json's)."""
        table = self.table
        return {b: {w: best_method(table, model_based, b, w) for w in by_workers}
                for b, by_workers in self.benchmarks.items()}

    def leaders(self, field: str = TIME_TO_TARGET) -> list[dict]:
        """benchmark, workers, the leading method by `field`, and the methods the seeds cannot
        separate from it."""
        return [{"benchmark": benchmark, "workers": workers, "leader": c.ranking[field][0].method,
                 "undecided_against": ",".join(r.method for r in c.ranking[field][1:] if not r.separated_from_leader)}
                for benchmark, by_workers in self.benchmarks.items() for workers, c in by_workers.items()]

    def peer_rows(self, peers: set[str]) -> tuple[PeerRow, ...]:
        """Each peer the study ran against the best own method, per benchmark and workers."""
        rows = []
        for benchmark, by_workers in self.benchmarks.items():
            for workers, comparison in by_workers.items():
                own = best_own(comparison, peers)
                rows += [peer_row(benchmark, workers, peer, own, comparison)
                         for peer in sorted(set(comparison.methods) & peers) if own is not None]
        return tuple(rows)

    def to_json(self, model_based: set[str], peers: set[str] = frozenset()) -> dict:
        """study, rows, best_model_based, leaders and peers (against the best own method) of
        study.json."""
        return {"study": self.study, "rows": [row.as_dict() for row in self.table.rows],
                "best_model_based": self.best_model_based(model_based), "leaders": self.leaders(),
                "peers": [row.as_dict() for row in self.peer_rows(peers)]}

    def peers_at_a_glance(self, peers: set[str], own_name: str = "Syne Tune") -> str:
        """Per benchmark, a row per peer and a column per worker count: who reaches the target
        sooner where the seeds separate them (else "undecided"), with both median times; and
        the tuner CPU per run of each with the most workers."""
        rows = self.peer_rows(peers)
        parts = []
        for benchmark, by_workers in self.benchmarks.items():
            mine = [row for row in rows if row.benchmark == benchmark]
            if not mine:
                continue
            workers = list(by_workers)
            words = {"own": f"{own_name} sooner", "peer": "peer sooner", "undecided": "undecided"}
            cells = []
            for peer in sorted({row.peer for row in mine}):
                by = {row.workers: row for row in mine if row.peer == peer}
                most = by[max(by)]
                times = [f"{words[by[w].verdict]} ({show(by[w].peer_time_s, 3)} vs {show(by[w].own_time_s, 3)})"
                         if w in by else "-" for w in workers]
                cells.append([f"`{peer}`"] + times + [f"{show(most.peer_cpu_s, 2)} vs {show(most.own_cpu_s, 2)}"])
            parts += [f"**{benchmark}**: median time to target, s (peer vs {own_name}'s best method there)\n",
                      markdown_table(["peer"] + [f"{w} worker{'' if w == 1 else 's'}" for w in workers]
                                     + [f"tuner CPU s per run, {max(workers)} workers"], cells), ""]
        return "\n".join(parts)

    def peers_matrix(self, peers: set[str], own_name: str = "Syne Tune") -> str:
        """One table: a row per peer, a column per benchmark and worker count, each cell who
        reaches the target sooner where the seeds separate the peer from the best own method
        there, else "undecided" (the README's summary of `peers_at_a_glance`)."""
        rows = self.peer_rows(peers)
        columns = [(b, w) for b, by_workers in self.benchmarks.items() for w in by_workers]
        by = {(r.peer, r.benchmark, r.workers): r for r in rows}
        words = {"own": own_name, "peer": "peer", "undecided": "undecided"}
        cells = [[f"`{peer}`"] + [words[by[(peer, b, w)].verdict] if (peer, b, w) in by else "-" for b, w in columns]
                 for peer in sorted({r.peer for r in rows})]
        return markdown_table(["peer"] + [f"{b} {w}" for b, w in columns], cells) if cells else ""

    def peers_markdown(self, peers: set[str], own_name: str = "Syne Tune") -> str:
        """Per benchmark, a table of each peer against the best own method (empty: no peers)."""
        rows = self.peer_rows(peers)
        parts = []
        for benchmark in self.benchmarks:
            cells = [row.markdown_cells(own_name) for row in rows if row.benchmark == benchmark]
            if cells:
                parts += [f"#### {benchmark}\n", markdown_table(
                    ["workers", "peer", f"best {own_name} method", "time to target, s: peer / it (median)",
                     "d time (peer - it) [95%]", "d final best [95%]", "sooner", "tuner CPU s per run: peer / it"],
                    cells), ""]
        return "\n".join(parts)

    def to_markdown(self) -> str:
        """Per benchmark: the ranking sentences, then the table (IQM [95% interval]; time to
        target: median with misses as never; d: paired difference to ASHA, * where resolved)."""
        rows = self.table.rows
        parts = []
        for benchmark, by_workers in self.benchmarks.items():
            first = next(iter(by_workers.values()))
            parts.append(f"### {benchmark}: target {first.metric} {first.target:.4g}, "
                         f"{first.max_wallclock_time:g} simulated s per run\n")
            parts += [f"- {comparison.verdict()}" for comparison in by_workers.values()]
            parts.append("")
            parts.append(markdown_table(
                ["workers", "method", "seeds", "final best (IQM)", "d final vs asha", "time to target, s (median)",
                 "reached", "d time vs asha", "utilization", "tuner CPU s per run (IQM)"],
                [row.markdown_cells() for row in rows if row.benchmark == benchmark]))
            parts.append("")
        return "\n".join(parts)


# -- the settings sweep ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One grace period, reduction factor and method of the sweep (a row of sweep.csv)."""

    grace_period: int
    reduction_factor: int
    method: str
    seeds: int
    time_to_target_s: float  # median, misses as never
    time_to_target_s_low: float
    time_to_target_s_high: float
    reached: int
    final_best: float  # IQM


@dataclass(frozen=True)
class Sweep:
    """The settings sweep, with the settings every other run used (marked "(default)")."""

    rows: tuple[SweepRow, ...]
    default: tuple[int, int]  # grace period, reduction factor

    def to_json(self) -> list[dict]:
        return [asdict(row) for row in self.rows]

    def best(self, among: set[str]) -> SweepRow | None:
        """The row of a method of `among` with the lowest median time to target, then the best
        final result (None: the sweep ran none of them)."""
        rows = [row for row in self.rows if row.method in among]
        return min(rows, key=lambda r: (r.time_to_target_s, r.final_best)) if rows else None

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.to_json())

    def to_markdown(self) -> str:
        def grace(row: SweepRow) -> str:
            default = (row.grace_period, row.reduction_factor) == self.default
            return f"{row.grace_period}{' (default)' if default else ''}"

        cells = [[row.method, grace(row), row.reduction_factor,
                  show_interval(row.time_to_target_s, row.time_to_target_s_low, row.time_to_target_s_high, 3),
                  f"{row.reached}/{row.seeds}", show(row.final_best)] for row in self.rows]
        return markdown_table(["method", "grace period", "reduction factor", "time to target, s (median [95%])",
                               "reached", "final best (IQM)"], cells)


def committed_sweep(default: tuple[int, int]) -> Sweep | None:
    """The committed study's settings sweep (study.json's "sweep"); None where there is none."""
    if not COMMITTED_STUDY.exists():
        return None
    rows = json.loads(COMMITTED_STUDY.read_text()).get("sweep") or []
    return Sweep(tuple(SweepRow(**{k: as_float(v) if k.startswith(("time", "final")) else v for k, v in row.items()})
                       for row in rows), default)


def sweep(study: str, results_dir: Path, default: tuple[int, int]) -> Sweep:
    """Per grace period, reduction factor and method of the sweep (STUDY-sweep-gG-rR): median
    time to target with its interval, how many seeds reached it, final best."""
    pattern = re.compile(rf"{re.escape(study)}-sweep-g(\d+)-r(\d+)$")
    rows = []
    for name in comparison_names(results_dir):
        match = pattern.match(name)
        if not match:
            continue
        comparison = compare(name, results_dir)
        for method, entry in comparison.methods.items():
            time, best = entry.summary[TIME_TO_TARGET], entry.summary[comparison.final_field]
            rows.append(SweepRow(int(match.group(1)), int(match.group(2)), method, time.runs, time.value, *time.ci95,
                                 time.reached, best.value))
    return Sweep(tuple(sorted(rows, key=lambda r: (r.method, r.grace_period, r.reduction_factor))), default)
