"""Listing experiments and the self-contained HTML report, read as a person would: from the
shell, and in a real headless browser."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis import experiment_folder as folder
from analysis.experiments import list_experiment_dirs
from analysis.list import list_experiments
from analysis.report import report_subject
from tests.conftest import run_script

CHROMIUM = Path("/usr/bin/chromium")
# the flags that run Debian's Chromium headless in a container, offline and without a profile
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def best_of(experiment: Path) -> float:
    return float(pd.read_csv(experiment / folder.RESULTS_FILE)["validation_error"].min())


# -- analysis.list ------------------------------------------------------------------------------


def test_list_shows_each_experiment_with_its_columns(smoke_experiment, smoke_results_dir):
    rows = json.loads(run_script(["-m", "analysis.list", "--results-dir", str(smoke_results_dir),
                                  "--json"]).stdout)
    row = next(r for r in rows if r["name"] == smoke_experiment.name)
    assert row == {"name": smoke_experiment.name, "comparison": None, "objective": "fashion_mnist_lenet",
                   "method": "asha", "workers": 2, "seed": 1, "metric": "validation_error", "mode": "min",
                   "best": best_of(smoke_experiment), "status": "finished", "simulated": False}
    text = run_script(["-m", "analysis.list", "--results-dir", str(smoke_results_dir)]).stdout.splitlines()
    assert text[0].split() == ["name", "comparison", "objective", "method", "workers", "seed", "best",
                               "status", "simulated"]
    line = next(line for line in text if line.startswith(smoke_experiment.name))
    assert line.split()[1:] == ["-", "fashion_mnist_lenet", "asha", "2", "1", "validation_error",
                                f"{best_of(smoke_experiment):.4g}", "finished", "no"]


def test_list_filters_by_name_or_comparison_prefix(comparison_dir, tmp_path):
    rows = json.loads(run_script(["-m", "analysis.list", "--results-dir", str(comparison_dir),
                                  "--prefix", "smoke-cmp-sync", "--json"]).stdout)
    assert sorted((r["method"], r["seed"]) for r in rows) == [("sync_sh", 0), ("sync_sh", 1)]
    # a run renamed by hand still belongs to its comparison
    renamed = tmp_path / "renamed-run"
    renamed.mkdir()
    for name in (folder.METADATA_FILE, folder.RESULTS_FILE):
        shutil.copy(comparison_dir / "smoke-cmp-asha-s0" / name, renamed / name)
    (tmp_path / "other-run").mkdir()
    (tmp_path / "other-run" / folder.METADATA_FILE).write_text(json.dumps({"finished": True}))
    assert [r["name"] for r in list_experiments(tmp_path, "smoke-cmp")] == ["renamed-run"]


def test_list_says_how_each_experiment_ended(tmp_path):
    endings = {"finished": {"finished": True}, "interrupted": {"interrupted": True},
               "aborted": {"aborted": "too many failed trials"}, "running": {}, "killed": {}}
    for name, metadata in endings.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / folder.METADATA_FILE).write_text(json.dumps(metadata))
    long_ago = 3 * folder.RUNNING_SILENCE_S
    os.utime(tmp_path / "killed" / folder.METADATA_FILE, (time.time() - long_ago,) * 2)
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / folder.METADATA_FILE).write_text('{"objective": ')
    status = {row["name"]: row["status"] for row in list_experiments(tmp_path)}
    assert status == {"finished": "finished", "interrupted": "interrupted", "aborted": "aborted",
                      "running": "running?", "killed": "partial", "damaged": "damaged"}
    text = run_script(["-m", "analysis.list", "--results-dir", str(tmp_path)])
    assert "Traceback" not in text.stderr and "damaged: " in text.stdout


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_list_of_a_missing_or_empty_folder_is_one_line_and_exit_2(tmp_path, make):
    results_dir = tmp_path / "results"
    if make == "empty":
        results_dir.mkdir()
    completed = run_script(["-m", "analysis.list", "--results-dir", str(results_dir)], check=False)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith(f"error: {results_dir}")


# -- analysis.report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def experiment_report(smoke_experiment, smoke_results_dir, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("report") / "experiment.html"
    run_script(["-m", "analysis.report", "latest", "-o", str(output), "--results-dir", str(smoke_results_dir)])
    return output


@pytest.fixture(scope="module")
def comparison_report(comparison_dir, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("report") / "comparison.html"
    run_script(["-m", "analysis.report", "smoke-cmp", "-o", str(output), "--results-dir", str(comparison_dir)])
    return output


def embedded_pngs(page: str) -> list[bytes]:
    """The page's images; asserts that every one is a PNG data URI and nothing is fetched."""
    assert "<link" not in page and 'src="http' not in page and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    return [base64.b64decode(s.split(",", 1)[1]) for s in sources]


def code_blocks(page: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)]


def test_experiment_report_is_one_self_contained_page(experiment_report, smoke_experiment):
    page = experiment_report.read_text()
    assert list(experiment_report.parent.iterdir()) == [experiment_report]  # nothing beside it
    images = embedded_pngs(page)
    assert len(images) == 1 and images[0][:8] == b"\x89PNG\r\n\x1a\n" and len(images[0]) > 10_000
    metadata = json.loads((smoke_experiment / folder.METADATA_FILE).read_text())
    for text in ("<h2>Summary</h2>", "<th>best_validation_error</th>", "<th>worker_utilization</th>",
                 "<h2>Best configuration</h2>", "<h2>Learning curves</h2>", smoke_experiment.name):
        assert text in page
    assert all(f"<td>{name}</td>" in page for name in metadata["hyperparameters"])
    checkpoint = smoke_experiment / str(metadata["best_trial_id"]) / "checkpoints" / "checkpoint.pt"
    assert f"Checkpoint: {checkpoint}." in html.unescape(page)
    assert metadata["command"] in code_blocks(page)


def test_the_reports_loading_code_loads_the_best_model(experiment_report):
    loading = next(block for block in code_blocks(experiment_report.read_text()) if "load_state_dict" in block)
    assert "from objectives.fashion_mnist_lenet import build_model" in loading
    namespace = {}
    exec(loading, namespace)  # raises where a key or shape does not match
    assert sum(p.numel() for p in namespace["model"].parameters()) == 61_706


def test_every_builtin_objective_says_how_to_load_its_model():
    from objectives import BUILTIN_OBJECTIVES, load_objective

    for name in BUILTIN_OBJECTIVES:
        objective = load_objective(name)
        imports = objective.load_model_code.splitlines()[0]
        namespace = {}
        exec(imports, namespace)  # the module it names exists and defines build_model
        assert callable(namespace["build_model"]), name
        model = namespace["build_model"](objective.default_config)
        assert sum(p.numel() for p in model.parameters()) > 10_000, name


def test_comparison_report_has_its_table_verdict_figures_and_runs(comparison_report, comparison_dir):
    page = comparison_report.read_text()
    images = embedded_pngs(page)
    assert len(images) == 3 and all(len(png) > 10_000 for png in images)
    assert "<th>final_best_validation_error</th>" in page and "<th>time_to_target_s</th>" in page
    assert re.search(r"<tr><td>asha</td><td>2</td>", page) and re.search(r"<tr><td>sync_sh</td><td>2</td>", page)
    assert "With 2 workers, " in page
    for run in ("smoke-cmp-asha-s0", "smoke-cmp-asha-s1", "smoke-cmp-sync_sh-s0", "smoke-cmp-sync_sh-s1"):
        assert f"<td>{run}</td>" in page


def test_what_the_argument_names(comparison_dir):
    newest = list_experiment_dirs(comparison_dir)[-1]
    assert report_subject("latest", comparison_dir) == ("experiment", str(newest))
    assert report_subject("smoke-cmp", comparison_dir) == ("comparison", "smoke-cmp")
    assert report_subject("smoke-cmp-asha-s0", comparison_dir) == ("experiment", str(comparison_dir / "smoke-cmp-asha-s0"))
    assert report_subject("smoke", comparison_dir) == ("comparison", "smoke-cmp")  # no unique experiment
    for spec in ("latest", "smoke-cmp-asha-s0", str(comparison_dir / "smoke-cmp-asha-s0")):
        assert report_subject(spec, comparison_dir, comparison=True) == ("comparison", "smoke-cmp")


@pytest.mark.parametrize("output", ["a-file/report.html", "a-folder"])
def test_an_unwritable_output_is_refused_before_anything_is_read(tmp_path, output):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    # the results folder is empty: the output is checked first
    completed = run_script(["-m", "analysis.report", "latest", "-o", str(tmp_path / output),
                            "--results-dir", str(tmp_path / "none")], check=False)
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1
    assert completed.stderr.startswith(f"error: {tmp_path}") and "no experiments" not in completed.stderr


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup "
                                                  "installs it where apt-get can)")
@pytest.mark.parametrize("report", ["experiment_report", "comparison_report"])
def test_the_report_renders_in_a_browser(report, request, tmp_path):
    import matplotlib.image

    page = request.getfixturevalue(report)
    tables, images = page.read_text().count("<table>"), page.read_text().count("<img ")
    assert tables >= 2 and images >= 1
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]

    def chromium(*args):
        return subprocess.run([str(CHROMIUM), *flags, *args, page.as_uri()], capture_output=True,
                              text=True, timeout=60, check=True)

    # the page's own script writes into <body> how many tables it has and images it decoded
    body = re.search(r"<body([^>]*)>", chromium("--dump-dom").stdout).group(1)
    counts = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body))
    assert counts == {"images": str(images), "images-decoded": str(images), "tables": str(tables)}, body
    screenshot = tmp_path / "page.png"
    chromium(f"--screenshot={screenshot}")
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (1600, 1280)
    assert (pixels.min(axis=2) < 0.9).mean() > 0.02  # text, tables and figures, not a blank page
