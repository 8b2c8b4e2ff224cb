"""The study command (experiments/study.py) on a small grid: its tables put each peer against
Syne Tune's best method with a paired interval, and every row says what its tuner cost."""

from __future__ import annotations

import json
import math

from analysis.tables import as_float
from experiments import study


def test_a_small_study_puts_the_peer_against_syne_tunes_best(tmp_path):
    study.main(["--benchmarks", "fashion_mnist_lenet", "--workers", "2", "--seeds", "4", "--model-seeds", "4",
                "--methods", "asha,random_search,optuna_tpe_sha", "--sweep-methods", "none", "--jobs", "1",
                "--results-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "report")])
    report = json.loads((tmp_path / "report" / "study.json").read_text())
    rows = {row["method"]: row for row in report["rows"]}
    assert set(rows) == {"asha", "random_search", "optuna_tpe_sha"}
    assert all(row["tuner_cpu_s"] > 0 for row in rows.values())
    (peer,) = report["peers"]
    # the peer against the own method with the lowest median time to target
    own = min(("asha", "random_search"), key=lambda m: (rows[m]["time_to_target_s"], rows[m]["final_best"]))
    assert (peer["peer"], peer["own"]) == ("optuna_tpe_sha", own)
    assert peer["peer_time_s"] == rows["optuna_tpe_sha"]["time_to_target_s"]
    low, high = map(as_float, peer["time_diff"]["ci95"])
    separated = low > 0 or high < 0
    assert peer["verdict"] == ("undecided" if not separated else "own" if low > 0 else "peer")
    assert peer["peer_cpu_s"] == rows["optuna_tpe_sha"]["tuner_cpu_s"] and math.isfinite(peer["own_cpu_s"])
    text = (tmp_path / "report" / "study.md").read_text()
    assert "### Against the peers" in text and f"| 2 | optuna_tpe_sha | {own} |" in text
    word = {"own": "Syne Tune", "peer": "peer", "undecided": "undecided"}[peer["verdict"]]
    assert f"| `optuna_tpe_sha` | {word} |" in text  # the table at a glance
