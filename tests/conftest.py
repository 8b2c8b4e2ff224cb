"""Shared fixtures: real launcher runs, written to temporary folders; and the two ways tests run a
command: in a subprocess, as a user would (`run_script`), or in this process with the command's
own argv (`run_here`), which spares a Python start where the shell is not what is tested."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CIFAR10_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"

# Tests interrupt launchers with SIGINT, as Ctrl-C would. Tests started in the background of a
# non-interactive shell inherit SIGINT ignored, and so would every launcher they start (Python
# leaves an ignored SIGINT ignored): restore Python's own handler here, so that the launchers'
# processes start with SIGINT as a terminal gives it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_script(args: list[str], timeout: float = 240, env: dict | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run a repository script or module with this interpreter, as a user would. `timeout` only
    guards against a hang: work is bounded by counts, and running out of time is a failure."""
    try:
        completed = subprocess.run(
            [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    except subprocess.TimeoutExpired as e:
        def tail(text):
            return (text.decode(errors="replace") if isinstance(text, bytes) else text or "")[-3000:]

        raise AssertionError(f"{' '.join(args)} did not end within {timeout:g} s (hung?)\n"
                             f"stdout:\n{tail(e.stdout)}\nstderr:\n{tail(e.stderr)}") from None
    if check and completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
        )
    return completed


def run_here(args: list[str]) -> str:
    """Run a repository script (`experiments/NAME.py ...`) or module (`-m analysis.NAME ...`) as
    `python ARGS` would, but in this process; return what it printed. A non-zero exit fails."""
    out, saved_argv = io.StringIO(), sys.argv
    try:
        with contextlib.redirect_stdout(out):
            if args[0] == "-m":
                sys.argv = [args[1], *args[2:]]
                with warnings.catch_warnings():  # imported before by this process, which `-m` never is
                    warnings.filterwarnings("ignore", "'.* found in sys.modules", RuntimeWarning)
                    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = [args[0], *args[1:]]
                runpy.run_path(str(REPO / args[0]), run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise AssertionError(f"{' '.join(args)} exited {e.code}\nstdout:\n{out.getvalue()[-3000:]}") from None
    finally:
        sys.argv = saved_argv
    return out.getvalue()


def run_launcher(script: str, results_dir: Path, *flags: str, timeout: float = 240) -> Path:
    """Run a launcher and return the folder of the experiment it wrote."""
    before = set(results_dir.iterdir()) if results_dir.exists() else set()
    run_script([f"experiments/{script}", "--results-dir", str(results_dir), *flags], timeout=timeout)
    created = [p for p in results_dir.iterdir() if p not in before and p.is_dir()]
    assert len(created) == 1, f"expected one new experiment, found {created}"
    return created[0]


def read_metadata(experiment: Path) -> dict:
    return json.loads((experiment / "metadata.json").read_text())


DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` into a folder every test process shares: with pytest-xdist (make test
    runs the suite in parallel processes), the first process to need it builds it and the
    others wait for it and reuse it; alone, it is built in this session's temporary folder."""
    from filelock import FileLock

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp()
    if worker is None:
        folder = root / name
        folder.mkdir()
        build(folder)
        return folder
    shared = root.parent  # the folder of every worker's basetemp: one per test session
    folder, done, failed = shared / name, shared / f"{name}.done", shared / f"{name}.failed"
    with FileLock(str(shared / f"{name}.lock")):
        if failed.exists():
            raise AssertionError(f"building {name} failed in another test process:\n{failed.read_text()}")
        if not done.exists():
            folder.mkdir(exist_ok=True)
            try:
                build(folder)
            except BaseException as error:
                failed.write_text(str(error)[-4000:])
                raise
            done.touch()
    return folder


@pytest.fixture(scope="session")
def real_comparison_dir(tmp_path_factory) -> Path:
    """A short comparison on real FashionMNIST over the recorded configurations (so that it can
    be replayed): ASHA and synchronous SH, 2 workers, 4 epochs of training each, 2 at most per
    trial."""
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("Debian package dataset-fashion-mnist not installed (make setup installs it)")
    return built_once(tmp_path_factory, "real-comparison", lambda results_dir: run_script(
        ["experiments/compare.py", "--methods", "asha,sync_sh", "--search-space", "recorded",
         "--seeds", "1", "--workers", "2", "--max-results", "4", "--max-resource", "2",
         "--grace-period", "1", "--comparison-name", "real", "--results-dir", str(results_dir)],
        timeout=480))


@pytest.fixture(scope="session")
def smoke_results_dir(tmp_path_factory) -> Path:
    """Holds `smoke_experiment` (a test may add experiments beside it)."""
    return built_once(tmp_path_factory, "smoke-results", lambda results_dir: run_launcher(
        "run_asha.py", results_dir, "--method", "asha", "--smoke", "--workers", "2",
        "--max-trials", "8", "--max-epochs", "8", "--grace-period", "1",
        "--reduction-factor", "2", "--seed", "1"))


@pytest.fixture(scope="session")
def smoke_experiment(smoke_results_dir) -> Path:
    """A real 2-worker ASHA run on synthetic data until 8 trials have ended: rungs at epochs 1,
    2, 4 (max 8)."""
    experiments = sorted(p for p in smoke_results_dir.iterdir() if (p / "metadata.json").exists())
    return next(p for p in experiments if p.name.startswith("asha-"))


@pytest.fixture(scope="session")
def comparison_dir(tmp_path_factory) -> Path:
    """A real comparison on synthetic data: ASHA and synchronous SH, seeds 0 and 1, 2 workers,
    16 epochs of training each, 4 at most per trial; comparison name smoke-cmp."""
    return built_once(tmp_path_factory, "comparison", lambda results_dir: run_script(
        ["experiments/compare.py", "--smoke", "--seeds", "2", "--workers", "2",
         "--max-results", "16", "--max-epochs", "4", "--grace-period", "1",
         "--comparison-name", "smoke-cmp", "--results-dir", str(results_dir)], timeout=480))


def assert_loads_in_stock_syne_tune(experiment: Path, hyperparameters: set[str], tmp_path: Path,
                                    metric: str = "validation_error") -> None:
    """Syne Tune's own client reads the experiment: its metric, its best configuration (the
    searched hyperparameters, and no constants among the config_ columns) and both plots."""
    import matplotlib

    matplotlib.use("Agg")
    from syne_tune.experiments import load_experiment

    loaded = load_experiment(experiment.name, load_tuner=False, local_path=str(experiment.parent))
    assert loaded.metric_names() == [metric], loaded.metric_names()
    best = loaded.best_config()
    assert {k[len("config_"):] for k in best if k.startswith("config_")} == hyperparameters, best
    for plot in (loaded.plot, loaded.plot_trials_over_time):
        figure = tmp_path / f"{experiment.name}-{plot.__name__}.png"
        plot(figure_path=str(figure))
        assert figure.stat().st_size > 5_000


# `make test` runs the suite in two processes that take work from each other's queues
# (pytest-xdist, --dist worksteal). A long test started last keeps one process busy after the
# other has run out of work, so the tests measured longest (a Ray cluster, real FashionMNIST,
# a README example run end to end, an interrupted run resumed, the shared comparisons) go first,
# in this order; the others keep their order after them.
LONGEST_FIRST = (
    "tests/test_run_asha.py::test_short_run_on_real_fashion_mnist",
    "tests/test_ray.py::",
    "tests/test_ray_netns.py::",
    "tests/test_own_objective.py::",
    "tests/test_reliability.py::test_resume_completes_an_interrupted_experiment",
    "tests/test_syne_tune_code.py::test_an_interrupted_script_run_resumes_without_training_an_epoch_twice",
    "tests/test_compare.py::test_one_experiment_per_method_and_seed",
    "tests/test_simulation.py::test_thirty_seed_simulated_comparison",
    "tests/test_simulation.py::test_recording_appends_and_skips_what_is_done",
    "tests/test_analysis.py::test_summary_json_from_the_shell",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # a stable sort: tests of one rank keep their order
