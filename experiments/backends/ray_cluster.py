"""Connecting to a Ray cluster, and what the suite needs to know about it: its nodes and
whether a trial's resource request fits on any of them.

Ray is an optional extra (`pip install -e '.[ray]'`); everything here imports it lazily, so
the rest of the suite runs without it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

INSTALL_HINT = "pip install -e '.[ray]'"
# Seconds to wait for a cluster's address to answer. ray.init itself retries an address that
# does not answer for minutes before it gives up.
CONNECT_TIMEOUT_S = 5.0


class ClusterError(Exception):
    """Ray is missing or the cluster cannot be reached: the message names the fix."""


@dataclass(frozen=True)
class Node:
    node_id: str
    ip: str
    cpus: int
    gpus: int


@dataclass(frozen=True)
class TrialResources:
    """What one trial asks Ray for (at least one CPU)."""

    cpus: int
    gpus: int

    def fits(self, node: Node) -> bool:
        return self.cpus <= node.cpus and self.gpus <= node.gpus

    def describe(self) -> str:
        return f"{self.cpus} CPU(s) and {self.gpus} GPU(s)"


@dataclass(frozen=True)
class ClusterInfo:
    address: str  # as given by the user, or "local" for a Ray started for this run
    nodes: tuple[Node, ...]  # alive ones
    here: str  # IP address of this process's machine

    @property
    def beyond_this_machine(self) -> bool:
        """Whether some node runs on another machine, which sees neither this machine's disk
        (the data cache) nor its files (checkpoints) unless they are shared."""
        return any(node.ip != self.here for node in self.nodes)

    @property
    def cpus(self) -> int:
        return sum(node.cpus for node in self.nodes)

    @property
    def gpus(self) -> int:
        return sum(node.gpus for node in self.nodes)

    def slots(self, request: TrialResources) -> int:
        """How many trials asking for `request` fit on the cluster at once."""
        def on(node: Node) -> int:
            by_cpu = node.cpus // request.cpus  # every trial asks for at least one CPU
            return min(by_cpu, node.gpus // request.gpus) if request.gpus else by_cpu

        return sum(on(node) for node in self.nodes)

    def placement_problem(self, request: TrialResources) -> str | None:
        """Why a trial asking for `request` can never start here, or None if some node fits it."""
        if any(request.fits(node) for node in self.nodes):
            return None
        if not self.nodes:
            return "the cluster has no live nodes"
        largest = max(self.nodes, key=lambda node: (node.gpus, node.cpus))
        return (f"a trial asks for {request.describe()}, but the largest of the cluster's "
                f"{len(self.nodes)} node(s) has {largest.cpus} CPU(s) and {largest.gpus} GPU(s)")

    def as_metadata(self) -> dict:
        return {"address": self.address, "nodes": len(self.nodes), "cpus": self.cpus,
                "gpus": self.gpus}


def import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports leave the machine
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_reachable(address: str) -> None:
    """Fail within seconds, with the fix, when nothing listens at HOST:PORT."""
    if address in ("auto", "local"):
        return
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray-address {address}: expected HOST:PORT (the address `ray start "
                           f"--head` prints), 'auto', or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ClusterError(
            f"--ray-address {address}: nothing answers there ({e}); start the cluster with "
            f"`ray start --head` on that machine, or leave out --ray-address to run on a local Ray"
        ) from None


def connect(address: str | None) -> ClusterInfo:
    """Join the cluster at `address`, or start a local Ray for this process (address None);
    connecting again in the same process is a no-op."""
    ray = import_ray()
    if not ray.is_initialized():
        if address:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
    return describe(address or "local")


def describe(address: str) -> ClusterInfo:
    import ray

    nodes = tuple(
        Node(node["NodeID"], node["NodeManagerAddress"], int(node["Resources"].get("CPU", 0)),
             int(node["Resources"].get("GPU", 0)))
        for node in ray.nodes() if node["Alive"]
    )
    return ClusterInfo(address, nodes, ray.util.get_node_ip_address())
