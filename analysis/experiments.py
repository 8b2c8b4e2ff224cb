"""Find an experiment by name, name prefix, path or `latest`, and load it with Syne Tune.

Loading goes through `syne_tune.experiments.load_experiment` with `load_tuner=False`: only
`results.csv.zip` and `metadata.json` are read, never the pickled tuner.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.experiment_folder import COMPARISON, METADATA_FILE, read_metadata, with_diverged_as_missing
from objectives.usage import UsageError


class ExperimentNotFound(UsageError):
    """The message says what was looked for and where."""


def add_results_dir_flag(parser) -> None:
    """The `--results-dir` flag every analysis command takes."""
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where experiments are (default $SYNETUNE_FOLDER or ~/syne-tune)")


def default_results_dir() -> Path:
    """Where the launchers write and Syne Tune's `load_experiment` looks by default."""
    return Path(os.environ.get("SYNETUNE_FOLDER", "~/syne-tune")).expanduser()


def list_experiment_dirs(results_dir: Path) -> list[Path]:
    """Experiment folders (those with a metadata.json), oldest first."""
    if not results_dir.is_dir():
        return []
    found = [p for p in results_dir.iterdir() if (p / METADATA_FILE).is_file()]
    return sorted(found, key=lambda p: ((p / METADATA_FILE).stat().st_mtime, p.name))


def resolve_experiment(spec: str, results_dir: Path | None = None) -> Path:
    """The folder of EXPERIMENT: a path, a name, a unique name prefix, or `latest`."""
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    as_path = Path(spec).expanduser()
    if as_path.is_dir() and (as_path / METADATA_FILE).is_file():
        return as_path.resolve()
    if as_path.is_dir():
        raise ExperimentNotFound(f"{as_path} is a folder but not an experiment (no {METADATA_FILE})")
    candidates = list_experiment_dirs(results_dir)
    if not candidates:
        raise ExperimentNotFound(
            f"no experiments in {results_dir}: run a launcher first, or pass --results-dir"
        )
    if spec == "latest":
        return candidates[-1]
    exact = [p for p in candidates if p.name == spec]
    if exact:
        return exact[0]
    matches = [p for p in candidates if p.name.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ExperimentNotFound(
            f"no experiment named {spec!r} (or starting so) in {results_dir}; "
            f"the newest is {candidates[-1].name}"
        )
    names = ", ".join(p.name for p in matches[:5])
    raise ExperimentNotFound(f"{spec!r} matches {len(matches)} experiments ({names}, ...): be more specific")


def load(spec: str, results_dir: Path | None = None):
    """`ExperimentResult` of Syne Tune for EXPERIMENT (results may be None if none were written),
    with a diverged trial's NaN or infinite values of the metric as missing values.

    A damaged metadata.json raises ExperimentNotFound; damaged or missing results load as None.
    """
    from syne_tune.experiments import load_experiment

    path = resolve_experiment(spec, results_dir)
    try:
        metadata = read_metadata(path)
    except (OSError, ValueError) as e:
        raise ExperimentNotFound(f"{path / METADATA_FILE} is unreadable ({e}): the folder is damaged")
    experiment = load_experiment(path.name, load_tuner=False, local_path=str(path.parent))
    experiment.results = with_diverged_as_missing(experiment.results, metadata)
    return experiment


# -- comparisons ------------------------------------------------------------------------------


def comparison_names(results_dir: Path) -> list[str]:
    """Comparisons in `results_dir`, oldest first (by their newest run)."""
    names: list[str] = []
    for path in list_experiment_dirs(results_dir):
        try:
            name = read_metadata(path).get(COMPARISON)
        except (OSError, ValueError):
            continue
        if name:
            if name in names:
                names.remove(name)
            names.append(name)
    return names


def resolve_comparison(spec: str, results_dir: Path | None = None) -> str:
    """The comparison named by SPEC: its name, a unique prefix, `latest`, or one of its runs
    (name or folder)."""
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    names = comparison_names(results_dir)
    if spec in names:
        return spec
    as_path = Path(spec).expanduser()
    run_folder = as_path if as_path.is_dir() else results_dir / spec
    if (run_folder / METADATA_FILE).is_file():
        try:
            name = read_metadata(run_folder).get(COMPARISON)
        except (OSError, ValueError):
            name = None
        if name:
            return name
        raise ExperimentNotFound(f"{run_folder.name} is a single run, not part of a comparison")
    if not names:
        raise ExperimentNotFound(f"no comparisons in {results_dir}: run experiments/compare.py "
                                 "first, or pass --results-dir")
    if spec == "latest":
        return names[-1]
    matches = [n for n in names if n.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ExperimentNotFound(f"no comparison named {spec!r} in {results_dir}; the newest is {names[-1]}")
    raise ExperimentNotFound(f"{spec!r} matches comparisons {', '.join(matches[:5])}: be more specific")


def comparison_run_folders(name: str, results_dir: Path | None = None) -> list[Path]:
    """The experiment folders of comparison `name`."""
    results_dir = Path(results_dir) if results_dir else default_results_dir()
    found = []
    for path in list_experiment_dirs(results_dir):
        try:
            if read_metadata(path).get(COMPARISON) == name:
                found.append(path)
        except (OSError, ValueError):
            continue
    if not found:
        raise ExperimentNotFound(f"comparison {name!r} has no experiments in {results_dir}")
    return found


def resolve_runs(spec: str, results_dir: Path | None = None) -> list[Path]:
    """The experiment folders SPEC names: one experiment (a path, a name, a unique prefix, or
    `latest`), or every run of a comparison (its name or a unique prefix of it)."""
    try:
        return [resolve_experiment(spec, results_dir)]
    except ExperimentNotFound as not_an_experiment:
        try:
            return comparison_run_folders(resolve_comparison(spec, results_dir), results_dir)
        except ExperimentNotFound:
            raise not_an_experiment from None
