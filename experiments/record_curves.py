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
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from objectives import OBJECTIVES, TABLES_DIR, load_objective

SAMPLE_SEED = 0
COLUMNS = ["config_id", "epoch", "validation_error", "validation_loss", "train_loss",
           "epoch_time_s", "elapsed_s"]


def table_path(objective: str) -> Path:
    return TABLES_DIR / f"{objective}.csv"


def metadata_path(table: Path) -> Path:
    return table.with_suffix(".json")


def from_unit(domain, u: float):
    """Map u in [0, 1) to a value of a Syne Tune domain (log scale where the domain is)."""
    from syne_tune.config_space import Categorical, Float, Integer

    if isinstance(domain, Categorical):
        return domain.categories[min(int(u * len(domain.categories)), len(domain.categories) - 1)]
    if isinstance(domain, Integer):
        return min(domain.lower + int(u * (domain.upper - domain.lower + 1)), domain.upper)
    if isinstance(domain, Float):
        if type(domain.get_sampler()).__name__ == "_LogUniform":
            return math.exp(math.log(domain.lower) + u * (math.log(domain.upper) - math.log(domain.lower)))
        return domain.lower + u * (domain.upper - domain.lower)
    raise TypeError(f"cannot sample {domain!r}")


def sample_configs(search_space: dict, n: int, seed: int = SAMPLE_SEED) -> list[dict]:
    """The first n points of a scrambled Sobol sequence over the search space."""
    from scipy.stats import qmc

    names = sorted(search_space)
    with warnings.catch_warnings():  # Sobol balance wants powers of 2; any n still works
        warnings.simplefilter("ignore", UserWarning)
        points = qmc.Sobol(d=len(names), scramble=True, seed=seed).random(n)
    return [{name: from_unit(search_space[name], float(u)) for name, u in zip(names, row)}
            for row in points]


def train_one(objective_name: str, config_id: int, config: dict, data_file: str,
              max_epochs: int, threads: int) -> list[dict]:
    """Train one configuration to the end; its reports, one per epoch."""
    reports = []
    load_objective(objective_name).run_trial(
        config, data_file, max_epochs, threads, 0, None, lambda **metrics: reports.append(metrics)
    )
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


def write_table(table: Path, frame: pd.DataFrame, metadata: dict) -> None:
    """Write table and metadata atomically: an interruption keeps the previous version."""
    table.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((table, frame.to_csv(index=False, float_format="%.6g")),
                       (metadata_path(table), json.dumps(metadata, indent=1))):
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the table is for everyone
        os.replace(tmp, path)


def load_table(table: Path) -> tuple[pd.DataFrame, dict]:
    if not table.exists():
        return pd.DataFrame(columns=COLUMNS), {}
    metadata = json.loads(metadata_path(table).read_text()) if metadata_path(table).exists() else {}
    return pd.read_csv(table), metadata


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", default="fashion_mnist_lenet")
    parser.add_argument("--configs", type=int, default=128, help="configurations (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="trained at once (default %(default)s)")
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the objective's")
    parser.add_argument("--table", type=Path, default=None,
                        help="CSV to write or extend (default objectives/tables/OBJECTIVE.csv)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--smoke", action="store_true", help="synthetic data (for tests)")
    args = parser.parse_args(argv)
    from objectives.data import SMOKE, DataNotFoundError

    if args.objective not in OBJECTIVES:
        sys.exit(f"error: unknown objective {args.objective!r}: choose one of {', '.join(OBJECTIVES)}")
    if args.configs < 1 or args.workers < 1:
        sys.exit("error: --configs and --workers must be at least 1")
    objective = load_objective(args.objective)
    max_epochs = args.max_epochs or objective.max_epochs
    try:
        data_file = SMOKE if args.smoke else str(objective.prepare_data(args.data_dir))
    except DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    table = args.table or table_path(args.objective)
    frame, metadata = load_table(table)
    if metadata and metadata.get("max_epochs") != max_epochs:
        sys.exit(f"error: {table} holds {metadata.get('max_epochs')} epochs per configuration; "
                 f"record with --max-epochs {metadata.get('max_epochs')} or write a new --table")
    configs = sample_configs(objective.search_space, args.configs)
    complete = frame.groupby("config_id")["epoch"].nunique()
    done = set(complete[complete == max_epochs].index)
    frame = frame[frame["config_id"].isin(done)]  # drop half-recorded configurations
    todo = [(i, c) for i, c in enumerate(configs) if i not in done]
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    import syne_tune
    import torch

    metadata = {
        "objective": args.objective, "max_epochs": max_epochs, "workers": args.workers,
        "threads_per_trial": threads, "sample": f"scrambled Sobol, seed {SAMPLE_SEED}",
        "search_space": {k: str(v) for k, v in objective.search_space.items()},
        "configs": {str(i): c for i, c in enumerate(configs) if i in done},
        "smoke": args.smoke, "data_file": data_file,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "syne_tune": syne_tune.__version__},
        "recorded_s": metadata.get("recorded_s", 0.0),  # training time of all sessions
    }
    recorded_before = metadata["recorded_s"]
    print(f"{table}: {len(done)} of {args.configs} configurations recorded; "
          f"training {len(todo)} with {args.workers} worker(s), {threads} thread(s) each", flush=True)
    started = time.perf_counter()
    os.environ["HPO_WARM_PRELOAD"] = f"{args.objective}={data_file}"  # loaded once, then forked
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["experiments.warm_preload"])
    tasks = [(args.objective, i, c, data_file, max_epochs, threads) for i, c in todo]
    with context.Pool(args.workers, maxtasksperchild=1) as pool:
        for n, rows in enumerate(pool.imap_unordered(_train_task, tasks), start=1):
            config_id = rows[0]["config_id"]
            frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
            metadata["configs"][str(config_id)] = configs[config_id]
            spent = time.perf_counter() - started
            metadata["recorded_s"] = round(recorded_before + spent, 1)
            write_table(table, frame.sort_values(["config_id", "epoch"]), metadata)
            eta = spent / n * (len(todo) - n)
            print(f"[{spent:7.0f}s] {len(done) + n}/{args.configs} recorded (config {config_id}: "
                  f"final validation error {rows[-1]['validation_error']:.4f}); ETA {eta / 60:.1f} min",
                  flush=True)
    print(f"table written: {table} ({len(frame)} rows)")


if __name__ == "__main__":
    main()
