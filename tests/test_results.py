"""The typed results (analysis.comparison, analysis.study) read the files earlier versions
wrote and render exactly the tables those versions rendered from them."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from analysis.comparison import Comparison, load_comparison
from analysis.study import best_method, load_study_table
from analysis.tables import as_float, json_number, show, show_signed
from tests.conftest import REPO

# a comparison.json with the table.md, table.csv and table.txt (printed) the suite wrote from it before
# the results were typed (it still carries "target_error")
BEFORE = REPO / "tests" / "data" / "comparison_before_typed_results"
COMMITTED_STUDY = REPO / "analysis" / "figures" / "study.json"


@pytest.fixture
def old_json() -> dict:
    return json.loads((BEFORE / "comparison.json").read_text())


def test_an_old_comparison_renders_the_same_markdown():
    assert load_comparison(BEFORE / "comparison.json").to_markdown() == (BEFORE / "table.md").read_text()


def test_an_old_comparison_renders_the_same_text():
    # what analysis.compare printed from it: caption, table, verdict
    text = load_comparison(BEFORE / "comparison.json").to_text()
    assert text == (BEFORE / "table.txt").read_text().rstrip("\n")


def test_an_old_comparison_writes_the_same_csv(tmp_path):
    load_comparison(BEFORE / "comparison.json").frame().to_csv(tmp_path / "table.csv", index=False)
    now, before = pd.read_csv(tmp_path / "table.csv"), pd.read_csv(BEFORE / "table.csv")
    assert list(now.columns) == list(before.columns)
    pd.testing.assert_frame_equal(now, before)
    assert (tmp_path / "table.csv").read_text() == (BEFORE / "table.csv").read_text()


def test_an_old_comparison_writes_its_json_without_the_old_key(old_json):
    comparison = Comparison.from_json(old_json)
    assert comparison.target == old_json["target_error"] == 0.19
    del old_json["target_error"]
    assert comparison.to_json() == old_json


def test_json_round_trip_is_the_identity(old_json):
    once = Comparison.from_json(old_json).to_json()
    twice = Comparison.from_json(json.loads(json.dumps(once))).to_json()
    assert json.dumps(twice, indent=1) == json.dumps(once, indent=1)


def test_attributes_hold_numbers_not_json_strings():
    comparison = load_comparison(BEFORE / "comparison.json")
    asha, sync_sh = comparison.methods["asha"], comparison.methods["sync_sh"]
    assert asha.summary["time_to_target_s"].value == math.inf and asha.summary["time_to_target_s"].reached == 1
    assert sync_sh.difference_to == "asha" and sync_sh.differences["time_to_target_s"].value == -math.inf
    assert sync_sh.differences["trials"].resolved and asha.differences == {}
    assert [entry.method for entry in comparison.ranking["time_to_target_s"]] == ["sync_sh", "asha"]


def test_a_file_that_is_no_comparison_is_a_clear_error(tmp_path, old_json):
    with pytest.raises(ValueError, match="not a comparison"):
        Comparison.from_json({"comparison": "x"})
    del old_json["methods"]
    (tmp_path / "comparison.json").write_text(json.dumps(old_json))
    with pytest.raises(ValueError, match="comparison.json.*methods"):
        load_comparison(tmp_path / "comparison.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        load_comparison(tmp_path / "broken.json")


def test_numbers_as_tables_and_json_show_them():
    assert [show(v) for v in (None, math.nan, math.inf, -math.inf, 0.123456, 40)] == [
        "-", "-", "never", "-inf", "0.1235", "40"]
    assert show(0.123456, 3) == "0.123" and show_signed(0.0) == "+0" and show_signed(-0.5) == "-0.5"
    assert [json_number(v) for v in (math.nan, math.inf, -math.inf, 1.5)] == [None, "inf", "-inf", 1.5]
    assert [as_float(v) for v in ("inf", "-inf", 2)] == [math.inf, -math.inf, 2.0] and math.isnan(as_float(None))
    with pytest.raises(ValueError, match="not a number"):
        as_float("fast")


def test_the_committed_study_loads_as_its_csv_and_names_the_same_best_model_based():
    from experiments.tuning.study import MODEL_BASED_METHODS

    table = load_study_table(COMMITTED_STUDY)
    written = pd.read_csv(COMMITTED_STUDY.with_suffix(".csv"))
    assert list(table.frame().columns) == list(written.columns)
    pd.testing.assert_frame_equal(table.frame(), written, check_dtype=False)
    stored = json.loads(COMMITTED_STUDY.read_text())["best_model_based"]
    chosen = {b: {str(w): best_method(table, MODEL_BASED_METHODS, b, w) for w in table.workers_of(b)}
              for b in stored}
    assert chosen == stored


def test_the_main_job_is_the_asha_variant_the_committed_sweep_ranks_first():
    """run_asha.py with no flags runs what the study's sweep (LeNet, 2 workers) found quickest
    among the ASHA variants (searcher and settings), peers aside."""
    from analysis.study import committed_sweep
    from experiments.schedulers import MAIN_JOB, METHODS, STUDY_SETTINGS, RungSettings

    sweep = committed_sweep((STUDY_SETTINGS.grace_period, STUDY_SETTINGS.reduction_factor))
    best = sweep.best({m for m, spec in METHODS.items() if spec.family == "asha"})
    assert (MAIN_JOB.method, MAIN_JOB.settings) == (best.method, RungSettings(best.grace_period, best.reduction_factor))


def test_the_real_confirmation_runs_the_old_and_new_main_job_and_the_best_peer_at_its_best_settings():
    from analysis.study import committed_study, committed_sweep
    from experiments.figures import STUDY_DEFAULTS, real_variants

    labels = [v.label for v in real_variants(committed_study(), committed_sweep(STUDY_DEFAULTS))]
    assert labels == ["asha", "asha_gp-g2-r4", "optuna_tpe_sha-g1-r3"]


def test_a_file_that_is_no_study_is_a_clear_error(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps({"study": "s"}))
    with pytest.raises(ValueError, match="not a study.json"):
        load_study_table(tmp_path / "study.json")
