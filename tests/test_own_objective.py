"""The README's examples of tuning a user's model, run as shown: "Tune your own model" (an
`Objective` file, then ASHA, synchronous SH, a summary and a plot) and "Bring your Syne Tune
script" (one file that is a Syne Tune script and tune function, then ASHA on the script,
synchronous SH on the function, a summary), each in a fresh results folder.

The commands run in this process (`run_here`: each with its own argv), which spares a Python
start per command. Each budget shown becomes a count of 40 or 50 results: a wall-clock budget
would make the test do less work on a busy machine than on an idle one, and a smaller count
spares the test time."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd

from tests.conftest import REPO, assert_loads_in_stock_syne_tune, run_here


def readme_section(heading: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else None]


def write_code_file(section: str, folder: Path) -> str:
    """Write the section's Python block to the file its first comment names; return the name."""
    code = re.search(r"```python\n# ([\w.]+)[^\n]*\n(.*?)```", section, re.S)
    filename, source = code.group(1), code.group(0).split("\n", 1)[1].rsplit("```", 1)[0]
    (folder / filename).write_text(source)
    return filename


def shown_commands(section: str) -> list[list[str]]:
    lines = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip() and not line.startswith("#")]


def command_name(words: list[str]) -> str:
    return words[2] if words[1] == "-m" else words[1]


def run_section(heading: str, tmp_path: Path, monkeypatch, swaps: dict[str, str]) -> tuple:
    """Write the section's file into tmp_path and run its commands there, with each word in
    `swaps` (a flag followed by its value) replaced; return (the file's name, the commands as run,
    what each printed, the experiments written)."""
    section = readme_section(heading)
    filename = write_code_file(section, tmp_path)
    monkeypatch.setenv("SYNETUNE_FOLDER", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)  # the file is named relative to where the user runs the commands
    commands, outputs = shown_commands(section), []
    for words in commands:
        for flag, value in swaps.items():
            if flag in words:
                at = words.index(flag)
                words[at:at + 2] = shlex.split(value)
        words = [str(tmp_path / w) if w.endswith(".png") else w for w in words]
        assert words[0] == "python", words
        outputs.append(run_here(words[1:]))
    experiments = sorted((tmp_path / "results").iterdir())
    return filename, commands, outputs, experiments


def test_the_readme_example_tunes_a_scikit_learn_model_with_asha_and_sh(tmp_path, monkeypatch):
    filename, commands, outputs, experiments = run_section("## Tune your own model", tmp_path, monkeypatch,
                                                           swaps={"--max-results": "--max-results 50"})
    assert filename == "my_objective.py"
    assert [command_name(c) for c in commands] == ["experiments/run_asha.py", "experiments/run_sync_sh.py",
                                                   "analysis.summarize", "analysis.plot_learning_curves"]
    assert len(experiments) == 2
    for experiment in experiments:
        metadata = json.loads((experiment / "metadata.json").read_text())
        results = pd.read_csv(experiment / "results.csv.zip")
        assert metadata["metric"] == "validation_accuracy" and metadata["metric_mode"] == "max"
        assert results["trial_id"].nunique() >= 4 and results["validation_accuracy"].max() > 0.85
        assert set(metadata["hyperparameters"]) == {"alpha", "eta0"}
    assert [json.loads((e / "metadata.json").read_text())["scheduler"] for e in experiments] == ["asha", "sync_sh"]
    summary = outputs[2]
    assert "best_validation_accuracy" in summary and "sync_sh" in summary  # `latest` is the SH run
    assert (tmp_path / "digits.png").stat().st_size > 10_000


def test_the_readme_syne_tune_file_is_tuned_as_a_script_and_as_a_tune_function(tmp_path, monkeypatch):
    filename, commands, outputs, experiments = run_section(
        "## Bring your Syne Tune script", tmp_path, monkeypatch,
        swaps={"--max-wallclock-time": "--max-results 40", "--max-results": "--max-results 40"})
    assert filename == "train_digits.py"
    assert [command_name(c) for c in commands] == ["experiments/run_asha.py", "experiments/run_sync_sh.py",
                                                   "analysis.summarize"]
    assert "--entry-point" in commands[0] and "--objective" in commands[1]
    script_run, function_run = experiments  # in the order they ran (names start asha-, sync-)
    for experiment, scheduler in ((script_run, "asha_gp"), (function_run, "sync_sh")):
        metadata = json.loads((experiment / "metadata.json").read_text())
        results = pd.read_csv(experiment / "results.csv.zip")
        assert metadata["scheduler"] == scheduler and metadata["metric"] == "validation_error"
        assert len(results) >= 40 and results["validation_error"].min() < 0.15
        assert set(metadata["hyperparameters"]) == {"alpha", "eta0"}  # `steps` is a constant
        twice = results[results.duplicated(["trial_id", "epoch"], keep=False)]
        assert twice.empty, f"epochs reported twice:\n{twice}"
        assert_loads_in_stock_syne_tune(experiment, {"alpha", "eta0"}, tmp_path)
    # synchronous SH pauses every trial at each rung: one past epoch 1 was resumed, and the checks
    # above show it went on from its checkpoint rather than train its first epoch again
    assert (pd.read_csv(function_run / "results.csv.zip").groupby("trial_id")["epoch"].max() > 1).any()
    assert "best_validation_error" in outputs[2] and "sync_sh" in outputs[2]  # `latest` is the SH run
