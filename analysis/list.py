"""List the experiments of a results folder, one row each, newest last.

    python -m analysis.list
    python -m analysis.list --prefix smoke-cmp          # a comparison's runs, or names so starting
    python -m analysis.list --json

Each row: name, comparison, objective, method, workers, seed, the best value of the
experiment's metric, status and whether it was simulated. Status is `finished`, `interrupted`
(Ctrl-C or SIGTERM; `--resume` continues it), `aborted` (too many failed trials), `running?`
(unfinished and written to within the last few minutes), `partial` (unfinished and silent: the
launcher was killed) or `damaged` (metadata.json unreadable).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from analysis import experiment_folder as folder
from analysis.experiments import ExperimentNotFound, add_results_dir_flag, default_results_dir, list_experiment_dirs, load
from objectives.usage import run_command

COLUMNS = ("name", "comparison", "objective", "method", "workers", "seed", "best", "status", "simulated")


def describe_experiment(path: Path) -> dict:
    """One row: what the folder's metadata and results say; a damaged folder gets a row too."""
    try:
        experiment = load(str(path))
    except ExperimentNotFound as e:
        return {"name": path.name, "status": "damaged", "problem": str(e)}
    metadata = experiment.metadata or {}
    metric = folder.metric_of(metadata)
    best = folder.best_row(experiment.results, metadata)
    return {
        "name": path.name,
        "comparison": metadata.get(folder.COMPARISON),
        "objective": metadata.get(folder.OBJECTIVE),
        "method": folder.method_of(metadata),
        "workers": metadata.get(folder.N_WORKERS),
        "seed": metadata.get(folder.SEED),
        "metric": metric,
        "mode": folder.mode_of(metadata),
        "best": None if best is None else float(best[metric]),
        "status": folder.run_status(path, metadata),
        "simulated": bool(metadata.get(folder.SIMULATED, False)),
    }


def list_experiments(results_dir: Path | None = None, prefix: str | None = None) -> list[dict]:
    """Rows of the experiments in `results_dir`, oldest first; with `prefix`, only those whose
    name or comparison starts with it."""
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    paths = list_experiment_dirs(results_dir)
    if not paths:
        what = "does not exist" if not results_dir.exists() else "holds no experiments"
        raise ExperimentNotFound(f"{results_dir} {what}: run a launcher first, or pass --results-dir")
    rows = [describe_experiment(path) for path in paths]
    if prefix:
        rows = [row for row in rows
                if row["name"].startswith(prefix) or (row.get("comparison") or "").startswith(prefix)]
        if not rows:
            raise ExperimentNotFound(f"no experiment or comparison in {results_dir} starts with "
                                     f"{prefix!r}; the newest experiment is {paths[-1].name}")
    return rows


def cell_text(row: dict, column: str) -> str:
    if column == "best":
        return "-" if row.get("best") is None else f"{row['metric']} {row['best']:.4g}"
    if column == "simulated":
        return "yes" if row.get("simulated") else "no"
    value = row.get(column)
    return "-" if value is None else str(value)


def format_rows(rows: list[dict]) -> str:
    table = [list(COLUMNS)] + [[cell_text(row, column) for column in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    lines += [f"{row['name']}: {row['problem']}" for row in rows if row["status"] == "damaged"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_results_dir_flag(parser)
    parser.add_argument("--prefix", default=None,
                        help="only experiments whose name, or whose comparison's name, starts with this")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list, one object per experiment (best as a number, with "
                             "its metric and mode)")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    rows = run_command(lambda: list_experiments(args.results_dir, args.prefix))
    print(json.dumps(rows, indent=1) if args.json else format_rows(rows))


if __name__ == "__main__":
    main()
