"""ASHA on a Ray cluster of two "machines": two network namespaces on this host (see
tests/netns_cluster.py), set up with the commands of docs/ray.md (`ray start --head` on the
head, `ray start --address HEAD:6379` on the other machine, token authentication on).

The tuner runs on the head machine, as a user runs it. The other machine lacks the tuner's
data: its Ray processes see an empty folder in place of the data cache ($HPO_CACHE_DIR), so
its trials can only train after receiving the decoded data set through Ray's object store. It
lacks a Syne Tune script's folder too, which reaches it the same way.

Needs root (network and mount namespaces), Ray, and Debian's FashionMNIST; skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from objectives import data
from objectives.training import CHECKPOINT_NAME
from tests.conftest import DEBIAN_FASHION_MNIST, REPO, read_metadata, run_script

pytest.importorskip("ray", reason="the Ray tests need the extra: pip install -e '.[ray]'")

from tests import netns_cluster  # noqa: E402

# A small slice of the real FashionMNIST: decoded and cached like the full set (a file, unlike
# --smoke's synthetic data, which no node would need shipped), but an epoch takes well under a
# second, so the run fits the test's budget.
N_TRAIN, N_TEST = 3000, 1000
# The first epoch is reported ~7 s into the run (Ray starts a worker process on each node,
# which imports torch), later ones every ~0.3 s: 16 results give both machines several trials.
MAX_RESULTS = 16
NOTHING_LEFT = {"netns": [], "veth": [], "pids": [], "zombies": [], "mount_ns_pids": [],
                "host_mounts": [], "dirs": []}


@pytest.fixture(scope="module")
def two_machines_possible():
    reason = netns_cluster.unavailable()
    if reason:
        pytest.skip(f"cannot simulate two machines here: {reason}")
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("Debian package dataset-fashion-mnist not installed (make setup installs it)")


def fashion_mnist_slice(folder: Path) -> Path:
    """The first images of the real FashionMNIST splits, as IDX files (what --data-dir takes)."""
    folder.mkdir(parents=True)
    for key, stem in data.FASHION_MNIST_FILES.items():
        array = data._read_idx(data.FASHION_MNIST_DEBIAN_DIR / f"{stem}.gz")
        array = array[:N_TRAIN if key.startswith("train") else N_TEST]
        header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
        (folder / stem).write_bytes(header + array.tobytes())
    return folder


@pytest.mark.timeout(900, method="signal")  # signal: the cluster's teardown still runs
def test_asha_on_two_machines_ships_the_data_to_the_one_lacking_it(two_machines_possible,
                                                                    tmp_path, monkeypatch):
    started = time.monotonic()
    cache = tmp_path / "cache"  # the data cache of the tuner's machine
    b_cache = tmp_path / "cache-seen-by-B"  # what machine B sees there: empty at first
    shared = tmp_path / "shared-checkpoints"  # --checkpoint-dir, on both machines' disk
    results = tmp_path / "results"
    monkeypatch.setenv("HPO_CACHE_DIR", str(cache))
    # the same checkout at the same path on every machine, importable by Ray's workers
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    source = fashion_mnist_slice(tmp_path / "fashion-mnist-slice")
    # decoded and cached on the tuner's machine (what `python -m objectives.prepare_data
    # fashion_mnist_lenet --data-dir ...` does; the launcher then finds it cached)
    cached = Path(data.prepare_fashion_mnist(str(source), download=False))

    # a Syne Tune script's folder, on the tuner's machine only
    project, b_project = tmp_path / "project", tmp_path / "project-seen-by-B"
    shutil.copytree(REPO / "tests" / "syne_tune_code", project, ignore=shutil.ignore_patterns("__pycache__"))

    cluster = netns_cluster.TwoMachines(private_dirs={cache: b_cache, project: b_project})
    with cluster:
        head, worker = cluster.head, cluster.worker
        node_ids = {cluster.node_id(head): "A", cluster.node_id(worker): "B"}
        assert cached.parent == cache and cached.exists()
        # ... but machine B does not see it: its Ray processes see an empty folder there
        assert cluster.run_in_view_of(worker, ["ls", "-A", str(cache)]) == ""

        launched = time.monotonic()
        run = cluster.run_in(head, [
            cluster.python, "experiments/run_asha.py", "--method", "asha", "--backend", "ray",
            "--ray-address", cluster.address, "--checkpoint-dir", str(shared),
            "--data-dir", str(source), "--max-resource", "2", "--grace-period", "1",
            "--max-results", str(MAX_RESULTS), "--seed", "0", "--results-dir", str(results),
        ], timeout=600, cwd=REPO)
        cluster.timings["launcher_s"] = time.monotonic() - launched
        assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"

        # Machine B received the decoded file through the object store: B's view of the cache
        # (the bind-mounted folder) was empty and now holds the same bytes as the tuner's
        # cache. Nothing but `ensure_data_file` writes there, and only from the object store.
        assert list(cache.iterdir()) == [cached]
        assert sorted(p.name for p in b_cache.iterdir()) == [cached.name]  # no .partial left
        assert (b_cache / cached.name).read_bytes() == cached.read_bytes()
        assert cluster.run_in_view_of(worker, ["ls", "-A", str(cache)]).split() == [cached.name]

        # The script's folder reaches machine B the same way, and its trials run there too.
        code_run = cluster.run_in(head, [
            cluster.python, "experiments/run_asha.py", "--method", "asha", "--backend", "ray",
            "--ray-address", cluster.address, "--checkpoint-dir", str(shared),
            "--entry-point", str(project / "train_script.py"), "--config-space", f"{project / 'spaces.py'}:config_space",
            "--metric", "mean_loss", "--max-resource-attr", "steps", "--grace-period", "1",
            "--max-results", "12", "--results-dir", str(tmp_path / "code-results"),
        ], timeout=600, cwd=REPO)
        assert code_run.returncode == 0, f"stdout:\n{code_run.stdout[-3000:]}\nstderr:\n{code_run.stderr[-3000:]}"
        seen_by_b = set(cluster.run_in_view_of(worker, ["ls", "-A", str(project)]).split()) - {"__pycache__"}
        assert seen_by_b == {"spaces.py", "train_script.py", "tune_function.py"}  # no staging folder left
        assert (b_project / "train_script.py").read_bytes() == (project / "train_script.py").read_bytes()
        [code_experiment] = list((tmp_path / "code-results").iterdir())
        code_nodes = set(read_metadata(code_experiment)["trial_nodes"].values())

        # Every port reachable from the other machine is one docs/ray.md tells to open.
        for machine, is_head in ((head, True), (worker, False)):
            for addr, port, process in netns_cluster.listening_ports(machine.netns):
                if addr not in ("127.0.0.1", "[::1]"):
                    assert port in cluster.ports.allowed(is_head), (machine.label, port, process)

    [experiment] = list(results.iterdir())
    metadata = read_metadata(experiment)
    assert metadata["trial_backend"] == "ray" and metadata["ray_cluster"]["nodes"] == 2
    trial_nodes = metadata["trial_nodes"]
    assert set(trial_nodes.values()) == set(node_ids), "trials did not run on both machines"
    assert code_nodes == set(node_ids), "the script's trials did not run on both machines"
    # every trial that trained an epoch left its checkpoint in the shared folder, on both
    # machines (a trial started just before the end may have none)
    assert (experiment / "results.csv.zip").exists(), "no trial reported"
    trained = {str(t) for t in pd.read_csv(experiment / "results.csv.zip")["trial_id"]}
    assert {trial_nodes[t] for t in trained} == set(node_ids)
    for trial_id in trained:
        assert (shared / experiment.name / trial_id / CHECKPOINT_NAME).exists(), trial_id
        assert not (experiment / trial_id / "checkpoints").exists()

    summary = json.loads(run_script(["-m", "analysis.summarize", str(experiment), "--json"]).stdout)
    assert summary["cluster_nodes"] == 2 and summary["trials_failed"] == 0
    assert summary["trials"] >= 2 and summary["epochs_total"] >= 2
    assert summary["test_error"] is not None  # the best trial's weights, from the shared folder

    elapsed = time.monotonic() - started
    per_machine = {label: sum(node_ids[n] == label for n in trial_nodes.values()) for label in "AB"}
    timings = {k: round(v, 1) for k, v in cluster.timings.items()}
    print(f"\n{len(trial_nodes)} trials started (per machine {per_machine}), "
          f"{summary['trials']} reported, {summary['epochs_total']} epochs; "
          f"timings {timings}, total {elapsed:.1f} s")
    assert cluster.leftovers() == NOTHING_LEFT


@pytest.mark.timeout(600, method="signal")
def test_a_failed_setup_leaves_nothing_behind(two_machines_possible, tmp_path, monkeypatch):
    """`ray start` failing on machine B, after the head is up: everything is still removed."""
    start = netns_cluster.TwoMachines._ray_start

    def fail_on_b(self, machine, flags):
        if machine is self.worker:
            raise RuntimeError("ray start on machine B failed (simulated)")
        start(self, machine, flags)

    monkeypatch.setattr(netns_cluster.TwoMachines, "_ray_start", fail_on_b)
    cluster = netns_cluster.TwoMachines(private_dirs={tmp_path / "cache": tmp_path / "empty"})
    with pytest.raises(RuntimeError, match="simulated"):
        with cluster:
            pass  # not reached
    assert cluster.killed, "the head's processes were not found"
    assert cluster.leftovers() == NOTHING_LEFT
