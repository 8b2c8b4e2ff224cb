"""What an HTML report shows: for one experiment, its summary, best configuration, where the
best model's checkpoint is and how to load it, learning curves, failures and the command that
made it; for a comparison, its table, verdicts, figures and runs."""

from __future__ import annotations

from pathlib import Path

from analysis import experiment_folder as folder
from analysis import html_page as html
from analysis.experiments import load

# Shown in their own sections rather than as one cell of the summary table.
OWN_SECTIONS = ("best_config", "failures")


def data_kind(metadata: dict) -> str:
    if metadata.get(folder.SIMULATED):
        return "simulated from recorded curves"
    return "synthetic data" if metadata.get(folder.SMOKE) else "real data"


def checkpoint_file(checkpoint_dir: Path) -> Path | None:
    """The checkpoint a trial left, a `.pt` file first; hidden files are unfinished writes."""
    if not checkpoint_dir.is_dir():
        return None
    files = sorted(p for p in checkpoint_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    files.sort(key=lambda p: p.suffix != ".pt")
    return files[0] if files else None


def best_trial_id(metadata: dict, results) -> int | None:
    """The trial the launcher named best at the end; while it runs (or if it never got there),
    the trial of the best result so far."""
    named = metadata.get(folder.BEST_TRIAL_ID)
    if named is not None and results is not None and (results["trial_id"] == named).any():
        return int(named)
    best = folder.best_row(results, metadata)
    return None if best is None else int(best["trial_id"])


def best_model_section(experiment, summary: dict) -> list[str]:
    """The best configuration, its checkpoint and the lines that load its model (the objective's
    `load_model_code`, as summaries print them)."""
    from analysis.summarize import config_of

    metadata, results = experiment.metadata or {}, experiment.results
    metric, resource = folder.metric_of(metadata), folder.resource_attr_of(metadata)
    trial_id = best_trial_id(metadata, results)
    parts = [html.heading("Best configuration")]
    if trial_id is None:
        return parts + [html.paragraph("No trial has reported a result.")]
    trial = results[results["trial_id"] == trial_id]
    best = folder.best_row(trial, metadata)
    parts += [
        html.paragraph(f"Trial {trial_id} reached {metric} {best[metric]:.4g} at {resource} "
                       f"{best[resource]:g}."),
        html.table([{"hyperparameter": k, "value": v} for k, v in config_of(best, results, metadata).items()]),
    ]
    if metadata.get(folder.SIMULATED):
        return parts + [html.paragraph("A simulated run trains no model: there is no checkpoint.")]
    checkpoint_dir = folder.checkpoint_folder(experiment.path, trial_id, metadata.get(folder.CHECKPOINT_ROOT))
    checkpoint = checkpoint_file(checkpoint_dir)
    if checkpoint is None:
        return parts + [html.paragraph(
            f"No checkpoint in {checkpoint_dir}: the trial ended before its first checkpoint, or "
            "the folder is on another machine.")]
    parts.append(html.paragraph(
        f"Checkpoint: {checkpoint}. It holds the weights after the trial's last {resource} "
        f"({trial[resource].max():g}), those the test score was measured on."))
    if summary.get("best_trial_id") != trial_id or not summary.get("load_best_model"):
        return parts + [html.paragraph(
            f"The checkpoint is whatever the train function of {metadata.get(folder.OBJECTIVE)} "
            "wrote into its checkpoint folder: load it the way that function saves it.")]
    return parts + [html.paragraph("To load the model (from this repository's environment):"),
                    html.code("\n".join(summary["load_best_model"]))]


def experiment_page(path: Path) -> str:
    """The report of the experiment in folder `path`."""
    from analysis.plot_learning_curves import plot_learning_curves
    from analysis.summarize import summarize_experiment

    experiment = load(str(path))
    summary = summarize_experiment(str(path))
    metadata = experiment.metadata or {}
    status = folder.run_status(Path(path), metadata)
    parts = [
        html.paragraph(f"{summary['objective']}, {summary['scheduler']}, {summary['n_workers']} "
                       f"workers, seed {metadata.get(folder.SEED, '-')}, {data_kind(metadata)}. Status: {status}"),
        html.heading("Summary"),
        html.key_value_table({k: v for k, v in summary.items() if k not in OWN_SECTIONS}),
        *best_model_section(experiment, summary),
        html.heading("Learning curves"),
        html.figure(plot_learning_curves(experiment), "every trial's metric against tuner time; x: "
                    "stopped early by the scheduler; red: best so far"),
    ]
    if summary["failures"]:
        parts += [html.heading(f"Failures ({summary['trials_failed']})"),
                  html.table([{"trial": t, "error": e} for t, e in summary["failures"].items()])]
    command = metadata.get(folder.COMMAND)
    parts += [html.heading("Command"),
              html.code(command) if command else html.paragraph("Not recorded (an older experiment).")]
    return html.page(f"Experiment {summary['name']}", parts)


def comparison_page(name: str, results_dir: Path | None = None, target: float | None = None) -> str:
    """The report of comparison `name`."""
    from analysis import comparison_plots as plots
    from analysis.comparison import compare, load_runs

    comparison = compare(name, results_dir, target)
    runs = load_runs(comparison.comparison, results_dir)
    what, how_to_read = comparison.caption()
    figures = [(plots.comparison_figure(runs, comparison),
                "left: best result so far against the best found (IQM over seeds, 95% bootstrap "
                "band); right: fraction of seeds at the target"),
               (plots.plot_worker_timelines(runs), "which worker ran which trial when (first seed "
                                                   "of each method)"),
               (plots.plot_rung_curves(runs), "learning curves with the rungs: x stopped, ^ promoted")]
    status = {run.experiment.name: folder.run_status(Path(run.experiment.path), run.metadata) for run in runs}
    per_run = [{"method": method, **figures_of_run, "status": status[figures_of_run["experiment"]]}
               for method, entry in comparison.methods.items() for figures_of_run in entry.runs]
    commands = sorted({run.metadata.get(folder.COMMAND) for run in runs} - {None})
    parts = [
        html.paragraph(f"{what} ({data_kind(runs[0].metadata)})."),
        html.heading("Methods"),
        html.table(comparison.text_rows()),
        html.paragraph(how_to_read, note=True),
        html.paragraph(comparison.verdict()),
        html.paragraph(comparison.verdict(comparison.final_field)),
        html.heading("Figures"),
        *(html.figure(fig, text) for fig, text in figures if fig is not None),
        html.heading(f"Runs ({len(per_run)})"),
        html.table(per_run),
        html.heading("Command" if len(commands) == 1 else "Commands"),
        *(html.code(command) for command in commands),
    ]
    if not commands:
        parts.append(html.paragraph("Not recorded (older experiments)."))
    return html.page(f"Comparison {comparison.comparison}", parts)
