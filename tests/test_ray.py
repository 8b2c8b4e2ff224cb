"""Trials on a Ray cluster: a real 2-node cluster on this machine (ray.cluster_utils.Cluster),
one CPU per node, so that two trials at once must run on different nodes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.summarize import summarize_experiment
from objectives.training import CHECKPOINT_NAME
from tests.conftest import assert_loads_in_stock_syne_tune, read_metadata, run_launcher, run_script
from tests.fault_objective import toy_trial
from tests.test_reliability import ended_trials, run_toy, toy_space

ray = pytest.importorskip("ray", reason="the Ray tests need the extra: pip install -e '.[ray]'")

# Stay on this machine: every Ray process binds to loopback, and no usage reports are sent.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # Ray's sockets live under RAY_TMPDIR, and Unix socket paths are limited to 107 bytes:
    # pytest's temporary folders are too deep.
    tmp = tempfile.mkdtemp(prefix="ray-")
    env = {**RAY_ENV, "RAY_TMPDIR": tmp}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # for this process and the launchers it starts
    node = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
    ray_cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    second = ray_cluster.add_node(**node)
    ray_cluster.wait_for_nodes()
    yield SimpleNamespace(address=ray_cluster.address,
                          node_ids={ray_cluster.head_node.node_id, second.node_id})
    ray.shutdown()  # the in-process tests below connect this process too
    ray_cluster.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(tmp, ignore_errors=True)


def assert_ran_on_both_nodes(experiment, cluster):
    metadata = read_metadata(experiment)
    assert metadata["ray_cluster"]["nodes"] == 2
    assert set(metadata["trial_nodes"].values()) == cluster.node_ids


@pytest.mark.timeout(900)
def test_sync_sh_pauses_and_resumes_trials_across_both_nodes(cluster, tmp_path):
    shared = tmp_path / "shared-checkpoints"
    experiment = run_launcher(
        "run_sync_sh.py", tmp_path / "results", "--backend", "ray", "--ray-address", cluster.address,
        "--workers", "2", "--smoke", "--max-results", "12", "--max-epochs", "4",
        "--grace-period", "1", "--checkpoint-dir", str(shared), timeout=600,
    )
    assert read_metadata(experiment)["trial_backend"] == "ray"
    assert_ran_on_both_nodes(experiment, cluster)
    results = pd.read_csv(experiment / "results.csv.zip")
    paused = set(results[results["st_decision"] == "PAUSE"]["trial_id"])
    resumed = [t for t in paused if results[results["trial_id"] == t]["epoch"].max() > 1]
    assert resumed, "no trial was promoted and resumed"
    # resumed from the shared checkpoints: no epoch trained twice
    assert not results.duplicated(["trial_id", "epoch"]).any()
    assert (shared / experiment.name / str(resumed[0]) / CHECKPOINT_NAME).exists()
    assert not (experiment / str(resumed[0]) / "checkpoints").exists()
    summary = summarize_experiment(experiment)
    assert summary["cluster_nodes"] == 2 and summary["trials_failed"] == 0
    assert summary["test_error"] is not None  # the best trial's weights, read from the shared folder


@pytest.mark.timeout(900)
def test_syne_tune_and_ray_tune_asha_side_by_side_on_both_nodes(cluster, tmp_path, capsys):
    from analysis.compare import main as compare_main
    from analysis.plot_learning_curves import main as plot_main

    results_dir = tmp_path / "results"
    run_script(["experiments/compare.py", "--methods", "asha,ray_tune_asha", "--backend", "ray",
                "--ray-address", cluster.address, "--seeds", "1", "--workers", "2", "--smoke",
                "--max-results", "8", "--comparison-name", "side-by-side",
                "--results-dir", str(results_dir)], timeout=600)
    experiments = {read_metadata(p)["method"]: p for p in results_dir.iterdir()}
    assert set(experiments) == {"asha", "ray_tune_asha"}
    # paired: both start from the objective's default configuration
    firsts = {}
    for method, experiment in experiments.items():
        results = pd.read_csv(experiment / "results.csv.zip")
        first = results[results["trial_id"] == 0].iloc[0]
        firsts[method] = (first["config_learning_rate"], first["config_batch_size"])
    assert firsts["asha"] == firsts["ray_tune_asha"] == (0.1, 128), firsts
    for method, experiment in experiments.items():
        assert_ran_on_both_nodes(experiment, cluster)
        summary = summarize_experiment(experiment)
        assert summary["trials"] >= 2 and summary["epochs_total"] >= 2, method
        assert summary["trial_backend"] == ("ray_tune" if method == "ray_tune_asha" else "ray")
        assert_loads_in_stock_syne_tune(experiment, {"learning_rate", "batch_size"}, tmp_path)
    # the analysis commands, in this process (what they print is what a user reads)
    capsys.readouterr()
    compare_main(["side-by-side", "--results-dir", str(results_dir), "--json",
                  "--output-dir", str(tmp_path / "report")])
    table = json.loads(capsys.readouterr().out)
    assert set(table["methods"]) == {"asha", "ray_tune_asha"}
    assert all(entry["runs"][0]["trials"] >= 2 for entry in table["methods"].values())
    plot_main([str(experiments["ray_tune_asha"]), "-o", str(tmp_path / "curves.png")])
    assert (tmp_path / "curves.png").stat().st_size > 10_000

    # a run asked not to start from the default (as the study's are) does not, on Ray Tune too
    from experiments.tuning.build import first_configurations
    from experiments.tuning.plan import RunRequest
    from experiments.tuning.ray_tune import make_ray_tune_plan

    request = RunRequest(backend="ray", ray_address=cluster.address, smoke=True, results_dir=tmp_path)
    assert first_configurations(make_ray_tune_plan(request)) == [{"learning_rate": 0.1, "batch_size": 128}]
    assert first_configurations(make_ray_tune_plan(request.replace(default_first=False))) == []


@pytest.mark.timeout(600)
def test_a_trial_no_node_can_hold_is_refused_with_the_fix(cluster, tmp_path):
    results_dir = tmp_path / "results"
    completed = run_script(
        ["experiments/run_asha.py", "--backend", "ray", "--ray-address", cluster.address,
         "--cpus-per-trial", "4", "--smoke", "--results-dir", str(results_dir)], check=False)
    assert completed.returncode == 2
    assert "no trial could ever start" in completed.stderr
    assert "largest of the cluster's 2 node(s) has 1 CPU(s)" in completed.stderr
    assert not results_dir.exists() or not any(results_dir.iterdir())

    # The same request reaching the backend (say, the large node left the cluster since the
    # start): the trial fails with the reason instead of waiting in Ray's queue forever.
    from experiments.backends.ray_tasks import RayTrialBackend
    from experiments.backends.ray_cluster import TrialResources

    space = toy_space()
    backend = RayTrialBackend(toy_trial, space, TrialResources(cpus=4, gpus=0), cluster.address)
    backend.set_path(str(tmp_path / "unplaceable"))
    trial = backend.start_trial({**space, "x": 0.1, "crash_at": 0})
    deadline = time.monotonic() + 120  # against a hang only
    while time.monotonic() < deadline:
        statuses, _ = backend.fetch_status_results([trial.trial_id])
        if statuses[trial.trial_id][1] == "Failed":
            break
        time.sleep(0.2)
    assert statuses[trial.trial_id][1] == "Failed"
    assert "cannot be placed on the Ray cluster" in "".join(backend.stderr(trial.trial_id))


@pytest.mark.timeout(600)
def test_crashing_trials_on_the_cluster_leave_the_experiment_running(cluster, tmp_path):
    from experiments.backends.ray_tasks import RayTrialBackend
    from experiments.backends.ray_cluster import TrialResources

    space = toy_space(max_epochs=3, crash=(0, 2), epoch_s=0.05)
    backend = RayTrialBackend(toy_trial, space, TrialResources(cpus=1, gpus=0), cluster.address)

    def eight_ended_on_both_nodes(status) -> bool:
        # a node whose worker is warm from an earlier test could otherwise end all 8 trials
        # before the other node's worker has started
        return status.num_trials_finished >= 8 and set(backend.trial_nodes.values()) == cluster.node_ids

    path = run_toy(tmp_path, "asha", backend, space, eight_ended_on_both_nodes)
    assert len(ended_trials(path)) >= 8  # not ended by the failures
    summary = summarize_experiment(path)
    assert summary["trials_failed"] >= 1
    # the trial's own traceback travelled back from the node it ran on
    assert all("injected crash at epoch 2" in error for error in summary["failures"].values())
    assert summary["trials"] > summary["trials_failed"]
    assert set(backend.trial_nodes.values()) == cluster.node_ids


@pytest.mark.timeout(600)
def test_a_node_lacking_the_data_set_gets_it_through_the_object_store(cluster, tmp_path):
    from experiments.backends.ray_tasks import ensure_data_file, ship_data
    from experiments.backends.ray_cluster import connect

    cluster_info = connect(cluster.address)
    data_file = tmp_path / "decoded.pt"
    data_file.write_bytes(os.urandom(1_000_000))
    # both nodes run on this machine, so they read the file where it is: nothing is shipped
    assert ship_data(str(data_file), cluster_info) == []
    missing = tmp_path / "other-machine-cache" / "decoded.pt"
    copy_task = ray.remote(num_cpus=1)(ensure_data_file)
    ray.get(copy_task.remote(str(missing), [ray.put(data_file.read_bytes())]))
    assert missing.read_bytes() == data_file.read_bytes()
    assert not list(missing.parent.glob("*.partial"))
    with pytest.raises(ray.exceptions.RayTaskError, match="missing on this node"):
        ray.get(copy_task.remote(str(tmp_path / "nowhere" / "decoded.pt"), []))


@pytest.mark.timeout(600)
def test_trials_still_running_at_the_end_leave_the_cluster_free(cluster, tmp_path):
    from syne_tune import StoppingCriterion

    from experiments.backends.ray_tasks import RayTrialBackend
    from experiments.backends.ray_cluster import TrialResources

    space = {**toy_space(max_epochs=3), "hang_at": 2}  # every trial hangs in its second epoch
    backend = RayTrialBackend(toy_trial, space, TrialResources(cpus=1, gpus=0), cluster.address)
    # the run ends once both trials have reported their first epoch
    path = run_toy(tmp_path, "random_search", backend, space,
                   StoppingCriterion(max_num_evaluations=1), max_failures=0)
    # Both hung trials were ended with the tuning, so both CPUs are free for the next run.
    deadline = time.monotonic() + 120  # against a hang only
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == 2
    assert summarize_experiment(path)["trials"] == 2
