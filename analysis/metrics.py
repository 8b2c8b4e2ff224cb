"""Figures computed from one experiment's results and metadata (no plotting here)."""

from __future__ import annotations

import pandas as pd

from analysis.experiment_folder import timeline_of


def trial_segments(results: pd.DataFrame | None, metadata: dict) -> pd.DataFrame:
    """When each trial ran: columns trial_id, worker, start_s, end_s (tuner time, seconds).

    Taken from the launcher's `trial_timeline` when present. Otherwise (an experiment from
    another tool, one killed hard, or one still running) estimated from the results: a run of
    a trial starts at its first report's tuner time minus the worker time it reported then
    (without worker times: at its first report), and ends at its last report; worker slots are
    then unknown (-1).
    """
    columns = ["trial_id", "worker", "start_s", "end_s"]
    timeline = timeline_of(metadata)
    if timeline:
        frame = pd.DataFrame([vars(segment) for segment in timeline])
        return frame[columns].dropna().sort_values("start_s").reset_index(drop=True)
    if results is None or results.empty:
        return pd.DataFrame(columns=columns)
    if "st_worker_time" not in results:
        results = results.assign(st_worker_time=0.0)
    rows = []
    for trial_id, trial in results.sort_values("st_tuner_time").groupby("trial_id"):
        # a resumed trial is a new process: its worker time starts again from zero
        run = (trial["st_worker_time"].diff() < 0).cumsum()
        for _, part in trial.groupby(run):
            start = part["st_tuner_time"].iloc[0] - part["st_worker_time"].iloc[0]
            rows.append((trial_id, -1, max(start, 0.0), part["st_tuner_time"].iloc[-1]))
    return pd.DataFrame(rows, columns=columns).sort_values("start_s").reset_index(drop=True)


def wallclock_seconds(results: pd.DataFrame | None, segments: pd.DataFrame) -> float:
    ends = [segments["end_s"].max() if not segments.empty else 0.0]
    if results is not None and not results.empty:
        ends.append(results["st_tuner_time"].max())
    return float(max(ends))


def worker_utilization(segments: pd.DataFrame, n_workers: int, wallclock_s: float) -> float | None:
    """(sum over trials of the time each ran) / (n_workers x experiment wall-clock)."""
    if wallclock_s <= 0 or n_workers < 1:
        return None
    busy = (segments["end_s"] - segments["start_s"]).clip(lower=0).sum()
    return float(busy / (n_workers * wallclock_s))


def stopped_early(results: pd.DataFrame, resource_attr: str, max_t: int) -> set:
    """Trials a scheduler ended before max_t: stopped (ASHA), or paused at a rung and never
    resumed (synchronous SH)."""
    last = results.sort_values(resource_attr).groupby("trial_id").tail(1)
    ended = last["st_decision"].isin(["STOP", "PAUSE"]) & (last[resource_attr] < max_t)
    return set(last[ended]["trial_id"])
