"""Draw the README's figures again, from new runs, into analysis/figures/.

    python experiments/figures.py simulated   # a few minutes: the simulated comparison   (make figures)
    python experiments/figures.py study       # ~50 min: the study and the scaling study   (make figures-study)
    python experiments/figures.py real        # ~110 min: real FashionMNIST, 2 workers     (make figures-real)
    python experiments/figures.py ray         # ~6 min: a local Ray, 2 workers             (make figures-real)

Each set runs its experiments into a temporary folder (or --results-dir), then writes its
figures under fixed names, and prints which files it wrote:
- simulated: sim_comparison.png, sim_worker_timeline.png, sim_rung_curves.png (ASHA, both
  synchronous SH variants and BOHB, 30 paired seeds, 4 workers, LeNet's recorded curves) and
  sim_learning_curves.png (seed 0 of ASHA);
- study: study-fashion_mnist_lenet.png, study-cifar10_cnn.png (experiments/study.py's default
  run) and scaling.png (experiments/scaling.py's), with their tables beside them (study.md,
  sweep.md, scaling.csv);
- real: real_comparison.png, real_worker_timeline.png, real_rung_curves.png and
  real_learning_curves.png: the main job (run_asha.py with no flags) against the main job
  before the study's answer (ASHA with random search at grace period 2 and reduction factor 2)
  and against the peer the committed study ranks first on LeNet with 2 workers (at the settings
  its sweep finds quickest), 3 paired seeds of 720 s each on real FashionMNIST; best_at.csv
  (each run's best by 2, 4, ..., 12 minutes);
- ray: ray_worker_timeline.png: Syne Tune's ASHA on the Ray backend beside Ray Tune's ASHA (2
  seeds of 90 s on a local Ray).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

from analysis.compare import write_report
from analysis.comparison import best_at, compare, load_runs
from analysis.experiments import load
from analysis.figure_files import check_output_folder, save_figure
from analysis.plot_learning_curves import plot_learning_curves
from analysis.study import StudyTable, Sweep, committed_study, committed_sweep, load_study_table
from experiments.schedulers import MAIN_JOB, STUDY_SETTINGS, RungSettings
from experiments.tuning.comparison import (ComparisonRequest, Variant, checked_comparison, plan_comparison,
                                          run_comparison, variant_requests)
from experiments.tuning.parallel import default_jobs
from experiments.tuning.plan import RunRequest
from experiments.tuning.scaling import ScalingRequest, default_methods, run_scaling, study_pick
from experiments.tuning.study import (BENCHMARKS, PEER_METHODS, StudyRequest, run_study, still_to_run,
                                      write_report as write_study_report)
from objectives.usage import run_command

FIGURES = Path(__file__).resolve().parent.parent / "analysis" / "figures"
SETS = ("simulated", "study", "real", "ray")
REAL_MINUTES = (2, 4, 6, 8, 10, 12)
STUDY_DEFAULTS = (STUDY_SETTINGS.grace_period, STUDY_SETTINGS.reduction_factor)


def comparison_figures(name: str, results_dir: Path, prefix: str, out: Path) -> list[Path]:
    """The comparison's figures as PREFIX_comparison.png, ..., plus the learning curves of
    ASHA's first seed; time to target is to LeNet's 0.1455, as in the study."""
    comparison = compare(name, results_dir, BENCHMARKS["fashion_mnist_lenet"].target)
    runs = load_runs(name, results_dir)
    with tempfile.TemporaryDirectory() as tmp:
        written = []
        for path in write_report(comparison, runs, Path(tmp)):
            target = out / f"{prefix}_{path.name}"
            if path.suffix == ".png":
                shutil.copyfile(path, target)
                written.append(target)
    first = next(r for r in runs if r.method == "asha")
    written.append(save_figure(plot_learning_curves(load(first.experiment.name, results_dir)),
                               out / f"{prefix}_learning_curves.png"))
    print(comparison.to_text())
    return written


def simulated_set(results_dir: Path, out: Path) -> list[Path]:
    comparison = plan_comparison(ComparisonRequest(
        # the settings the study's sweep found best on LeNet with 2 workers
        run=RunRequest(backend="simulated", workers=4, results_dir=results_dir, grace_period=1, reduction_factor=4),
        methods=("asha", "sync_sh", "sync_sh_waiting", "bohb"), seeds=30, name="sim-figures"))
    with contextlib.redirect_stdout(io.StringIO()):
        run_comparison(comparison)
    return comparison_figures("sim-figures", results_dir, "sim", out)


def study_set(results_dir: Path, out: Path) -> list[Path]:
    request = StudyRequest(results_dir=results_dir / "study")
    jobs = default_jobs()
    costs = run_study(request, jobs)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_study_report(request, Path(tmp), costs)
        written = []
        for path in files:
            if path.suffix in (".png", ".md", ".json", ".csv"):
                shutil.copyfile(path, out / path.name)
                written.append(out / path.name)
        # the scaling study's model-based method: the one this study ranks first
        methods = default_methods(load_study_table(Path(tmp) / "study.json"), "fashion_mnist_lenet")
        _, scaling_files = run_scaling(ScalingRequest(results_dir=results_dir / "scaling", methods=methods),
                                       jobs, Path(tmp))
        for path in scaling_files:
            if path.suffix in (".png", ".csv"):
                shutil.copyfile(path, out / path.name)
                written.append(out / path.name)
    return written


def variant_label(method: str, settings: RungSettings) -> str:
    """A method's name, with its settings where they are not the study's (asha-g1-r4)."""
    if settings == STUDY_SETTINGS:
        return method
    return f"{method}-g{settings.grace_period}-r{settings.reduction_factor}"


def real_variants(study: StudyTable | None, sweep: Sweep | None) -> tuple[Variant, ...]:
    """The main job before the study's answer (ASHA with random search at the study's
    settings, labelled asha), the main job now (MAIN_JOB), and the peer `study` ranks first on
    LeNet with 2 workers, at the settings `sweep` finds quickest for it (else the study's)."""
    variants = [Variant("asha", "asha", STUDY_SETTINGS),
                Variant(variant_label(MAIN_JOB.method, MAIN_JOB.settings), MAIN_JOB.method, MAIN_JOB.settings)]
    peer = study_pick(study, "fashion_mnist_lenet", PEER_METHODS, workers=2)
    if peer is not None:
        best = sweep.best({peer}) if sweep is not None else None
        settings = RungSettings(best.grace_period, best.reduction_factor) if best is not None else STUDY_SETTINGS
        variants.append(Variant(variant_label(peer, settings), peer, settings))
    return tuple(dict.fromkeys(variants))  # once each, should the main job be the old one


def real_set(results_dir: Path, out: Path) -> list[Path]:
    """With --results-dir, an interrupted set continues: finished runs are kept, a run the
    interruption cut short starts again."""
    requests = variant_requests(RunRequest(workers=2, budget_s=720, results_dir=results_dir),
                                real_variants(committed_study(), committed_sweep(STUDY_DEFAULTS)), seeds=3,
                                name="real-figures")
    todo = still_to_run(requests)
    for run in todo:
        shutil.rmtree(Path(run.results_dir) / run.experiment_name, ignore_errors=True)
    print(f"{len(requests)} real runs, {len(requests) - len(todo)} finished already", flush=True)
    if todo:
        run_comparison(checked_comparison("real-figures", todo), say=lambda text: print(text, flush=True))
    written = comparison_figures("real-figures", results_dir, "real", out)
    at = best_at(load_runs("real-figures", results_dir), [60 * m for m in REAL_MINUTES])
    at.to_csv(out / "real_best_at.csv", index=False)
    print(at.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return written + [out / "real_best_at.csv"]


def ray_set(results_dir: Path, out: Path) -> list[Path]:
    """Syne Tune's ASHA on the Ray backend beside Ray Tune's own, 2 seeds of 90 s on a local
    Ray: their worker timelines."""
    from analysis.comparison_plots import plot_worker_timelines

    comparison = plan_comparison(ComparisonRequest(
        run=RunRequest(backend="ray", workers=2, budget_s=90, results_dir=results_dir,
                       grace_period=STUDY_SETTINGS.grace_period, reduction_factor=STUDY_SETTINGS.reduction_factor),
        methods=("asha", "ray_tune_asha"), seeds=2, name="ray-figures"))
    run_comparison(comparison, say=lambda text: print(text, flush=True))
    print(compare("ray-figures", results_dir).to_text())
    return [save_figure(plot_worker_timelines(load_runs("ray-figures", results_dir)), out / "ray_worker_timeline.png")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", choices=SETS, help="which figures: " + ", ".join(SETS))
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="keep the runs' experiments there (default: a temporary folder)")
    parser.add_argument("--output-dir", type=Path, default=FIGURES,
                        help="where the figures go (default analysis/figures)")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    run_command(lambda: check_output_folder(args.output_dir))
    draw = {"simulated": simulated_set, "study": study_set, "real": real_set, "ray": ray_set}[args.set]
    with tempfile.TemporaryDirectory() as tmp:
        results_dir = (args.results_dir or Path(tmp)).expanduser().resolve()
        written = run_command(lambda: draw(results_dir, args.output_dir))
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)


if __name__ == "__main__":
    main()
