"""Analyse a comparison written by experiments/compare.py: which method gets how close to the
best result how soon, with what uncertainty, and how busy each keeps its workers.

    python -m analysis.compare latest                    # table; figures, CSV, Markdown, JSON files
    python -m analysis.compare NAME --output-dir report/ --target 0.25
    python -m analysis.compare latest --json             # the comparison as one JSON object
    python -m analysis.compare latest --at 120,240,360   # each run's best by 2, 4 and 6 minutes

COMPARISON is a comparison's name, a unique prefix, `latest`, or the name or folder of one of
its runs. Files written (into --output-dir, default RESULTS_DIR/COMPARISON-report/): comparison.png (regret
over time and the fraction of seeds at the target), worker_timeline.png, rung_curves.png (rung
methods only), table.csv (numbers: each summary, its interval ends, counts, differences),
table.md (the table as text) and comparison.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from analysis.comparison import Comparison, best_at, compare, load_runs
from analysis.experiments import add_results_dir_flag, default_results_dir
from analysis.figure_files import check_output_folder, save_figure
from objectives.usage import UsageError, run_command


def parse_times(text: str) -> list[float]:
    try:
        times = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        times = []
    if not times or min(times) < 0:
        raise UsageError(f"--at {text!r}: give tuner times in seconds, e.g. 120,240,360")
    return times


def write_report(comparison: Comparison, runs, out_dir: Path) -> list[Path]:
    """Figures and tables into out_dir; returns the files written."""
    import matplotlib.pyplot as plt

    from analysis import comparison_plots as plots

    plt.switch_backend("Agg")
    written = []
    for filename, figure in (("comparison.png", plots.comparison_figure(runs, comparison)),
                             ("worker_timeline.png", plots.plot_worker_timelines(runs)),
                             ("rung_curves.png", plots.plot_rung_curves(runs))):
        if figure is not None:
            written.append(save_figure(figure, out_dir / filename))
    comparison.frame().to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(comparison.to_markdown())
    (out_dir / "comparison.json").write_text(json.dumps(comparison.to_json(), indent=1))
    return written + [out_dir / "table.csv", out_dir / "table.md", out_dir / "comparison.json"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comparison", help="name, unique prefix, 'latest', or one of its runs")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="folder for figures and tables (default RESULTS_DIR/COMPARISON-report)")
    add_results_dir_flag(parser)
    parser.add_argument("--target", type=float, default=None,
                        help="metric value for time to target (default: the one the runs were "
                             "given, else the median of all runs' final best)")
    parser.add_argument("--at", default=None, metavar="SECONDS,...",
                        help="also print each run's best result by these tuner times (and write best_at.csv)")
    parser.add_argument("--json", action="store_true",
                        help="print the comparison as one JSON object (the files are written too)")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)

    def analyse():
        comparison = compare(args.comparison, args.results_dir, args.target)
        out_dir = args.output_dir or Path(args.results_dir or default_results_dir()) / f"{comparison.comparison}-report"
        check_output_folder(out_dir)
        return comparison, load_runs(comparison.comparison, args.results_dir), out_dir

    comparison, runs, out_dir = run_command(analyse)
    times = run_command(lambda: parse_times(args.at)) if args.at else None
    written = write_report(comparison, runs, out_dir)
    if times:
        at = best_at(runs, times)
        at.to_csv(out_dir / "best_at.csv", index=False)
        written.append(out_dir / "best_at.csv")
    if args.json:
        print(json.dumps(comparison.to_json(), indent=1))
        return
    print(comparison.to_text())
    if times:
        print(f"\nbest {comparison.metric} by tuner time (s):")
        print(at.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nwrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
