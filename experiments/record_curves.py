"""Record full learning curves of an objective once, for simulated replay.

    python experiments/record_curves.py --objective fashion_mnist_lenet --configs 128 --workers 2
    python experiments/record_curves.py --entry-point train.py --config-space space.py:config_space
        --metric accuracy --mode max --max-resource-attr epochs     (Syne Tune code: the tuning flags)

Trains N configurations, a fixed space-filling sample of the objective's search space (scrambled
Sobol points, seeded), to the maximum resource (the image classifiers on real data), W at a time
(as in a tuning run with W workers), and writes one table: per configuration and level the
objective's metric and the measured training time (the classifiers' validation and training loss
too). Settings, machine and versions go into the table's metadata (a JSON file beside it). An
existing table is extended: configurations already recorded are skipped, so an interrupted
recording continues where it stopped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from experiments.backends.warm import preload_request
from experiments.tuning.flags import add_objective_flags, objective_spec
from experiments.tuning.resources import cpus_available
from objectives import load_objective
from objectives.objective import TrialRun
from objectives.tables import (
    ELAPSED,
    EPOCH_TIME,
    LEVEL,
    SAMPLE_SEED,
    complete_curves,
    load_table,
    sample_configs,
    table_names,
    table_path,
    write_table,
)
from objectives.usage import UsageError, run_command

# what the built-in classifiers report besides their metric, kept in their tables
BUILT_IN_EXTRAS = ("validation_loss", "train_loss")


def train_one(objective_spec: str, config_id: int, config: dict, data_file: str | None,
              max_epochs: int, threads: int) -> list[dict]:
    """Train one configuration to the end; its rows, one per level of resource: the metric, the
    time that level took (the built-in objectives measure their training; others, the time
    between reports) and the elapsed time."""
    objective = load_objective(objective_spec)
    reports = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="record-checkpoints-") as checkpoints:  # as a trial has
        objective.train(config, TrialRun(
            report=lambda **metrics: reports.append((time.perf_counter(), metrics)), max_resource=max_epochs,
            checkpoint_dir=checkpoints, data=data_file, threads=threads, seed=0))
    elapsed, previous = 0.0, started
    rows = []
    for at, report in reports:
        level_s = report.get(EPOCH_TIME, at - previous)
        previous = at
        elapsed += level_s
        rows.append({"config_id": config_id, LEVEL: report[objective.resource_attr],
                     objective.metric: report[objective.metric],
                     **{name: report[name] for name in BUILT_IN_EXTRAS if name in report},
                     EPOCH_TIME: level_s, ELAPSED: elapsed})
    if not rows:  # nothing reported: not recorded (a later recording tries it again)
        return []
    for level in range(len(rows) + 1, max_epochs + 1):  # diverged: it stopped; its final state stays
        elapsed += rows[-1][EPOCH_TIME]
        rows.append({**rows[-1], LEVEL: level, ELAPSED: elapsed})
    return rows


def _train_task(task) -> tuple[int, list[dict], str | None]:
    """(config id, its rows, why it failed or None): a failing configuration is not recorded,
    and the others go on."""
    try:
        return task[1], train_one(*task), None
    except Exception as e:  # noqa: BLE001 - the user's code may raise anything; named, then skipped
        return task[1], [], f"{type(e).__name__}: {e}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_objective_flags(parser)
    parser.add_argument("--configs", type=int, default=128, help="configurations (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="configurations trained at once (default %(default)s)")
    parser.add_argument("--max-resource", "--max-epochs", dest="max_epochs", type=int, default=None, metavar="N",
                        help="epochs of every recorded curve (default: the objective's)")
    parser.add_argument("--table", type=Path, default=None,
                        help="CSV to write or extend (default: where --backend simulated reads it, "
                             "objectives/tables/OBJECTIVE.csv for the built-in objectives, else "
                             "$HPO_TABLES_DIR/OBJECTIVE.csv, by default in ~/.cache/hpo-suite/tables)")
    parser.add_argument("--data-dir", default=None, help="where the data set is (see docs/reference.md, Data)")
    parser.add_argument("--smoke", action="store_true", help="synthetic data (for tests)")
    return parser


def table_to_extend(table: Path, objective, max_epochs: int) -> tuple[pd.DataFrame, dict]:
    """The table as recorded so far (empty if new), refused where it was recorded otherwise."""
    frame, metadata = load_table(table)
    if not metadata:
        return frame, metadata
    if metadata.get("max_epochs") != max_epochs:
        raise UsageError(f"{table} holds {metadata.get('max_epochs')} epochs per configuration; "
                         f"record with --max-epochs {metadata.get('max_epochs')} or write a new --table")
    metric, mode, resource_attr = table_names(metadata)
    if (metric, mode, resource_attr) != (objective.metric, objective.mode, objective.resource_attr):
        raise UsageError(f"{table} was recorded for {metric} ({mode}) over {resource_attr}, not "
                         f"{objective.metric} ({objective.mode}) over {objective.resource_attr}: write a new --table")
    if set(metadata.get("search_space", {})) != set(objective.search_space):
        raise UsageError(f"{table} was recorded over {', '.join(metadata.get('search_space', {}))}, not "
                         f"{', '.join(objective.search_space)}: write a new --table")
    return frame, metadata


def table_metadata(objective, objective_spec: str, max_epochs: int, workers: int, threads: int,
                   configs: list[dict], done: set, smoke: bool, data_file: str | None, recorded_s: float) -> dict:
    """What a table says about itself: the objective and its names, how and where it was recorded."""
    import syne_tune
    import torch

    return {
        "objective": objective.name, "objective_spec": objective_spec, "metric": objective.metric,
        "mode": objective.mode, "resource_attr": objective.resource_attr,
        "max_epochs": max_epochs, "workers": workers,
        "threads_per_trial": threads, "sample": f"scrambled Sobol, seed {SAMPLE_SEED}",
        "search_space": {k: str(v) for k, v in objective.search_space.items()},
        "configs": {str(i): c for i, c in enumerate(configs) if i in done},
        "smoke": smoke, "data_file": data_file,
        "machine": {"cpus": cpus_available(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "syne_tune": syne_tune.__version__},
        "recorded_s": recorded_s,  # training time of all sessions
    }


def record(objective_spec: str, n_configs: int, workers: int, max_epochs: int | None,
           table: Path | None, data_dir: str | None, smoke: bool) -> Path:
    """Record (or extend) the table; returns its path."""
    if n_configs < 1 or workers < 1:
        raise UsageError("--configs and --workers must be at least 1")
    objective = load_objective(objective_spec)
    if (smoke or data_dir is not None) and not objective.has_data:
        raise UsageError(f"--smoke and --data-dir: objective {objective.name} reads no data set")
    max_epochs = max_epochs or objective.max_resource
    data_file = objective.prepare_data(data_dir, smoke) if objective.has_data else None
    table = table or table_path(objective.name)
    frame, metadata = table_to_extend(table, objective, max_epochs)
    configs = sample_configs(objective.search_space, n_configs)
    frame = complete_curves(frame, max_epochs)  # drop half-recorded configurations
    done = set(frame["config_id"].unique())
    todo = [(i, c) for i, c in enumerate(configs) if i not in done]
    threads = max(1, cpus_available() // workers)
    metadata = table_metadata(objective, objective_spec, max_epochs, workers, threads, configs, done, smoke,
                              data_file, metadata.get("recorded_s", 0.0))
    recorded_before = metadata["recorded_s"]
    print(f"{table}: {len(done)} of {n_configs} configurations recorded; "
          f"training {len(todo)} with {workers} worker(s), {threads} thread(s) each", flush=True)
    started = time.perf_counter()
    # the data are loaded once by the forkserver, then forked into each worker
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["experiments.backends.warm_preload"])
    tasks = [(objective_spec, i, c, data_file, max_epochs, threads) for i, c in todo]
    failures = []
    with preload_request(objective_spec, data_file), context.Pool(workers, maxtasksperchild=1) as pool:
        for n, (config_id, rows, failed) in enumerate(pool.imap_unordered(_train_task, tasks), start=1):
            if not rows:
                failures.append(failed)
                print(f"config {config_id} {failed or 'reported nothing'}: not recorded (a later recording tries "
                      f"it again)", flush=True)
                continue
            frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
            metadata["configs"][str(config_id)] = configs[config_id]
            spent = time.perf_counter() - started
            metadata["recorded_s"] = round(recorded_before + spent, 1)
            write_table(table, frame.sort_values(["config_id", LEVEL]), metadata)
            eta = spent / n * (len(todo) - n)
            print(f"[{spent:7.0f}s] {len(done) + n}/{n_configs} recorded (config {config_id}: "
                  f"final {objective.metric} {rows[-1][objective.metric]:.4g}); ETA {eta / 60:.1f} min",
                  flush=True)
    if todo and len(failures) == len(todo):
        raise UsageError(f"no configuration was recorded: {failures[0] or 'none reported anything'}")
    print(f"table written: {table} ({len(frame)} rows)")
    return table


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    run_command(lambda: record(objective_spec(args), args.configs, args.workers, args.max_epochs,
                               args.table, args.data_dir, args.smoke))


if __name__ == "__main__":
    main()
