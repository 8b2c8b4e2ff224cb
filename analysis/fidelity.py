"""How faithfully recorded curves reproduce real runs (experiments/replay_fidelity.py runs the
replay in simulation; this module only measures).

For the trials of real runs whose configurations are in the recorded table (all of them when
the runs used `--search-space recorded`), compares real and recorded learning curves: the rank
correlation (Spearman) of the validation errors the trials ended with, the median absolute
difference of validation errors epoch by epoch, and the median relative error of epoch times.
"""

from __future__ import annotations

import pandas as pd


def curve_pairs(runs, table: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, epoch) of the real runs that the table also holds."""
    rows = []
    for run in runs:
        results = run.results
        if results is None or "config_config_id" not in results:
            continue
        merged = results[["trial_id", "config_config_id", "epoch", "validation_error", "epoch_time_s"]].merge(
            table[["config_id", "epoch", "validation_error", "epoch_time_s"]],
            left_on=["config_config_id", "epoch"], right_on=["config_id", "epoch"],
            suffixes=("_real", "_table"),
        )
        merged["run"] = run.experiment.name
        rows.append(merged)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def curve_fidelity(pairs: pd.DataFrame) -> dict:
    from scipy.stats import spearmanr

    if pairs.empty:
        return {"trials": 0}
    last = pairs.sort_values("epoch").groupby(["run", "trial_id"]).tail(1)
    correlation = spearmanr(last["validation_error_real"], last["validation_error_table"]).statistic
    time_error = (pairs["epoch_time_s_real"] - pairs["epoch_time_s_table"]).abs() / pairs["epoch_time_s_table"]
    return {
        "trials": int(len(last)),
        "epochs": int(len(pairs)),
        "final_error_rank_correlation": round(float(correlation), 4),
        "median_abs_error_difference": round(float((pairs["validation_error_real"]
                                                    - pairs["validation_error_table"]).abs().median()), 4),
        "median_relative_epoch_time_error": round(float(time_error.median()), 4),
    }


def rankings_agree(real: list[dict], simulated: list[dict]) -> str:
    """Whether a real and a simulated comparison rank methods alike (rankings as
    analysis.comparison makes them): "same" where both put the same method first,
    "undecided" where they differ but either cannot tell its first two apart, else "DIFFERENT"."""
    if real[0]["method"] == simulated[0]["method"]:
        return "same"
    def undecided(ranking, method):
        return any(entry["method"] == method and not entry["separated_from_leader"] for entry in ranking)

    if undecided(real, simulated[0]["method"]) or undecided(simulated, real[0]["method"]):
        return "undecided"
    return "DIFFERENT"
