"""Record full learning curves of an objective once, for simulated replay.

    python experiments/record_curves.py --objective fashion_mnist_lenet --configs 128 --workers 2

Trains N configurations, a fixed space-filling sample of the objective's search space (scrambled
Sobol points, seeded), for the full number of epochs on real data, W at a time (as in a tuning
run with W workers), and writes one table: per configuration and epoch the validation error,
validation loss and the measured training time. Settings, machine and versions go into the
table's metadata (a JSON file beside it). An existing table is extended: configurations already
recorded are skipped, so an interrupted recording continues where it stopped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import time
from pathlib import Path

import pandas as pd

from experiments.backends.warm import preload_request
from experiments.tuning.resources import cpus_available
from objectives import BUILTIN_OBJECTIVES, load_objective
from objectives.objective import TrialRun
from objectives.tables import SAMPLE_SEED, complete_curves, load_table, sample_configs, table_path, write_table
from objectives.usage import UsageError, run_command


def train_one(objective_name: str, config_id: int, config: dict, data_file: str,
              max_epochs: int, threads: int) -> list[dict]:
    """Train one configuration to the end; its reports, one per epoch."""
    reports = []
    load_objective(objective_name).train(config, TrialRun(
        report=lambda **metrics: reports.append(metrics), max_resource=max_epochs,
        checkpoint_dir=None, data=data_file, threads=threads, seed=0))
    elapsed = 0.0
    rows = []
    for report in reports:
        elapsed += report["epoch_time_s"]
        rows.append({"config_id": config_id, "epoch": report["epoch"],
                     "validation_error": report["validation_error"],
                     "validation_loss": report["validation_loss"],
                     "train_loss": report["train_loss"],
                     "epoch_time_s": report["epoch_time_s"], "elapsed_s": elapsed})
    if len(rows) < max_epochs:  # diverged: it stopped; record the rest as its final state
        last = rows[-1] if rows else {"validation_error": 1.0, "validation_loss": float("nan"),
                                      "train_loss": float("nan"), "epoch_time_s": 0.0}
        for epoch in range(len(rows) + 1, max_epochs + 1):
            elapsed += last["epoch_time_s"]
            rows.append({**last, "config_id": config_id, "epoch": epoch, "elapsed_s": elapsed})
    return rows


def _train_task(task):
    return train_one(*task)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", default="fashion_mnist_lenet",
                        help=f"{', '.join(BUILTIN_OBJECTIVES)} (default %(default)s)")
    parser.add_argument("--configs", type=int, default=128, help="configurations (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="configurations trained at once (default %(default)s)")
    parser.add_argument("--max-resource", "--max-epochs", dest="max_epochs", type=int, default=None, metavar="N",
                        help="epochs of every recorded curve (default: the objective's)")
    parser.add_argument("--table", type=Path, default=None,
                        help="CSV to write or extend (default objectives/tables/OBJECTIVE.csv)")
    parser.add_argument("--data-dir", default=None, help="where the data set is (see docs/reference.md, Data)")
    parser.add_argument("--smoke", action="store_true", help="synthetic data (for tests)")
    return parser


def record(objective_spec: str, n_configs: int, workers: int, max_epochs: int | None,
           table: Path | None, data_dir: str | None, smoke: bool) -> Path:
    """Record (or extend) the table; returns its path."""
    if n_configs < 1 or workers < 1:
        raise UsageError("--configs and --workers must be at least 1")
    objective = load_objective(objective_spec)
    if objective.prepare_data is None:
        raise UsageError(f"objective {objective.name} takes no data set: record_curves records "
                         f"the built-in image classifiers")
    max_epochs = max_epochs or objective.max_resource
    data_file = objective.prepare_data(data_dir, smoke)
    table = table or table_path(objective.name)
    frame, metadata = load_table(table)
    if metadata and metadata.get("max_epochs") != max_epochs:
        raise UsageError(f"{table} holds {metadata.get('max_epochs')} epochs per configuration; "
                         f"record with --max-epochs {metadata.get('max_epochs')} or write a new --table")
    configs = sample_configs(objective.search_space, n_configs)
    frame = complete_curves(frame, max_epochs)  # drop half-recorded configurations
    done = set(frame["config_id"].unique())
    todo = [(i, c) for i, c in enumerate(configs) if i not in done]
    threads = max(1, cpus_available() // workers)
    import syne_tune
    import torch

    metadata = {
        "objective": objective.name, "max_epochs": max_epochs, "workers": workers,
        "threads_per_trial": threads, "sample": f"scrambled Sobol, seed {SAMPLE_SEED}",
        "search_space": {k: str(v) for k, v in objective.search_space.items()},
        "configs": {str(i): c for i, c in enumerate(configs) if i in done},
        "smoke": smoke, "data_file": data_file,
        "machine": {"cpus": cpus_available(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "syne_tune": syne_tune.__version__},
        "recorded_s": metadata.get("recorded_s", 0.0),  # training time of all sessions
    }
    recorded_before = metadata["recorded_s"]
    print(f"{table}: {len(done)} of {n_configs} configurations recorded; "
          f"training {len(todo)} with {workers} worker(s), {threads} thread(s) each", flush=True)
    started = time.perf_counter()
    # the data are loaded once by the forkserver, then forked into each worker
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["experiments.backends.warm_preload"])
    tasks = [(objective_spec, i, c, data_file, max_epochs, threads) for i, c in todo]
    with preload_request(objective_spec, data_file), context.Pool(workers, maxtasksperchild=1) as pool:
        for n, rows in enumerate(pool.imap_unordered(_train_task, tasks), start=1):
            config_id = rows[0]["config_id"]
            frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
            metadata["configs"][str(config_id)] = configs[config_id]
            spent = time.perf_counter() - started
            metadata["recorded_s"] = round(recorded_before + spent, 1)
            write_table(table, frame.sort_values(["config_id", "epoch"]), metadata)
            eta = spent / n * (len(todo) - n)
            print(f"[{spent:7.0f}s] {len(done) + n}/{n_configs} recorded (config {config_id}: "
                  f"final validation error {rows[-1]['validation_error']:.4f}); ETA {eta / 60:.1f} min",
                  flush=True)
    print(f"table written: {table} ({len(frame)} rows)")
    return table


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    run_command(lambda: record(args.objective, args.configs, args.workers, args.max_epochs,
                               args.table, args.data_dir, args.smoke))


if __name__ == "__main__":
    main()
