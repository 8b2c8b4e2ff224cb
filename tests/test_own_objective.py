"""The README's "Tune your own model" example, run exactly as shown: its objective file, then its
commands (ASHA and synchronous SH, a summary and a plot), in a fresh results folder."""

from __future__ import annotations

import json
import re
import shlex

import pandas as pd

from tests.conftest import REPO, run_script

SECTION = "## Tune your own model"


def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end >= 0 else None]


def test_the_readme_example_tunes_a_scikit_learn_model_with_asha_and_sh(tmp_path):
    section = readme_section()
    code = re.search(r"```python\n# ([\w.]+)[^\n]*\n(.*?)```", section, re.S)
    filename, source = code.group(1), code.group(0).split("\n", 1)[1].rsplit("```", 1)[0]
    assert filename == "my_objective.py"
    (tmp_path / filename).write_text(source)
    commands = [line for line in re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
                if line.strip() and not line.startswith("#")]
    assert [c.split()[2] if c.split()[1] == "-m" else c.split()[1] for c in commands] == ["experiments/run_asha.py", "experiments/run_sync_sh.py",
                                               "analysis.summarize", "analysis.plot_learning_curves"]
    env = {"SYNETUNE_FOLDER": str(tmp_path / "results")}
    outputs = []
    for command in commands:
        words = [w.replace("my_objective.py", str(tmp_path / filename)) for w in shlex.split(command)]
        words = [str(tmp_path / w) if w.endswith(".png") else w for w in words]
        assert words[0] == "python"
        outputs.append(run_script(words[1:], env=env, timeout=120).stdout)
    experiments = sorted((tmp_path / "results").iterdir())
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
