"""Two "machines" on one host for Ray tests: two network namespaces joined by a veth pair.

Namespace A (the head machine, 10.200.0.1) runs `ray start --head`, namespace B (a worker
machine, 10.200.0.2) runs `ray start --address 10.200.0.1:6379`: the commands a user runs on
two real machines (docs/ray.md, "Setting up a cluster"), with token authentication on. Drivers
(the launchers) are run inside namespace A, as a user runs the tuner on the head machine.

Only the network is namespaced. Processes, the filesystem and $HOME are shared, so whatever
a real machine has on its own disk is made distinct by hand:

- each node gets its own $HOME (where `ray get-auth-token --generate` writes the token, and
  where Ray looks for it) and its own Ray `--temp-dir` (sockets, session folders, logs);
- a node may get a private view of some folders (`private_dirs`): its `ray start` runs in its
  own mount namespace in which an empty folder is bind-mounted over each of them, so that,
  say, the data cache of the tuner's machine is missing there, as on another machine. Every
  Ray process of the node (raylet, workers) inherits that view; the rest of the host never
  sees the mount, and it disappears with the node's last process.

Clean-up never uses `ray stop`: it walks every process of the host and kills anything named
like a Ray process, whatever its namespace, so it would also kill the other node and any other
Ray on the host. Instead every process whose network namespace is one of ours is killed:
nothing else can be in them, and every Ray process (daemons, workers, drivers) inherits the
namespace of the `ray start` or driver that started it. Teardown runs also when setup fails
half-way, on SIGTERM (turned into SystemExit) and on Ctrl-C, and it is idempotent. What a
SIGKILLed run leaves behind is removed by `python -m tests.netns_cluster cleanup-stale`.

Facts this relies on (Ray 2.60.0):

- the namespaces have no default route, so Ray's IP auto-detection (a UDP "connect" to
  8.8.8.8) fails and falls back to the hostname, which resolves to 127.0.0.1 here: the nodes
  get `--node-ip-address` (as on any multi-NIC machine). Drivers and worker nodes detect their
  IP from the route to the head, which works without a default route;
- `ray start` turns token authentication on only when RAY_AUTH_MODE=token; then every node
  and every driver needs RAY_AUTH_MODE=token and the token (RAY_AUTH_TOKEN, or the file
  RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token). `ray start --address ...` and
  `ray.init(address="HOST:PORT")` do not turn it on by themselves and then fail with
  "Unauthenticated ... InvalidAuthToken";
- every port a node listens on is pinned by a flag (`PortPlan`), so that a firewall rule set
  can be written for a real cluster; `listening_ports` lets a test check that.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Unix socket paths hold at most 107 bytes, and Ray's sockets live below --temp-dir
# ("/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store" is ~61 bytes): keep it short.
MAX_UNIX_SOCKET_PATH = 107
RAY_SOCKET_SUFFIX_RESERVE = 80
# Our namespaces and folders are named PREFIX{A,B}-..., so stale ones can be found.
PREFIX = "hpons"


@dataclasses.dataclass(frozen=True)
class PortPlan:
    """Every TCP port a node listens on beyond loopback, each pinned by a `ray start` flag.

    The same numbers on every node, so one rule "allow these ports between cluster members"
    suffices."""

    gcs: int = 6379  # head only: --port
    node_manager: int = 6380  # the raylet's gRPC server
    object_manager: int = 6381  # object transfers between nodes
    dashboard_agent_grpc: int = 6382
    runtime_env_agent: int = 6383
    metrics_export: int = 6384
    dashboard_agent_http: int = 52365
    # Every worker process and every driver runs a gRPC server that other nodes call directly
    # (the owner of an object or task answers for it); each needs its own port, so the range
    # bounds the workers plus drivers alive on a node at once.
    min_worker: int = 10002
    max_worker: int = 10021

    def node_flags(self) -> list[str]:
        """The `ray start` flags common to the head and the worker nodes."""
        return [
            f"--node-manager-port={self.node_manager}",
            f"--object-manager-port={self.object_manager}",
            f"--dashboard-agent-grpc-port={self.dashboard_agent_grpc}",
            f"--dashboard-agent-listen-port={self.dashboard_agent_http}",
            f"--runtime-env-agent-port={self.runtime_env_agent}",
            f"--metrics-export-port={self.metrics_export}",
            f"--min-worker-port={self.min_worker}",
            f"--max-worker-port={self.max_worker}",
        ]

    def allowed(self, head: bool) -> set[int]:
        fixed = {self.node_manager, self.object_manager, self.dashboard_agent_grpc,
                 self.runtime_env_agent, self.metrics_export, self.dashboard_agent_http}
        if head:
            fixed.add(self.gcs)
        return fixed | set(range(self.min_worker, self.max_worker + 1))


@dataclasses.dataclass
class Machine:
    """One simulated machine."""

    label: str  # "A" (head) or "B" (worker)
    netns: str
    veth: str
    ip: str
    home: Path | None = None  # its $HOME: ~/.ray/auth_token, the `ray start` log
    temp_dir: Path | None = None  # Ray's --temp-dir
    netns_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the network namespace

    @property
    def token_file(self) -> Path:
        return self.home / ".ray" / "auth_token"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command; raise with its output when it fails."""
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"command failed (rc={res.returncode}): {' '.join(map(str, cmd))}\n"
                           f"stdout: {res.stdout.strip()}\nstderr: {res.stderr.strip()}")
    return res


def unavailable() -> str | None:
    """Why two machines cannot be simulated here (a reason to skip), or None."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces need CAP_SYS_ADMIN)"
    for tool in ("ip", "unshare", "nsenter", "mount", "ss"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (iproute2, util-linux)"
    probe = f"{PREFIX}probe{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        return f"`ip netns add` is not permitted: {res.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}probe") as tmp:
        src, dst = Path(tmp, "src"), Path(tmp, "dst")
        src.mkdir()
        dst.mkdir()
        res = subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                              "mount", "--bind", str(src), str(dst)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return (f"a private bind mount (`unshare --mount`) is not permitted: "
                    f"{res.stderr.strip()}")
    return None


def _ns_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def pids_in_netns(ns_id: tuple[int, int]) -> list[int]:
    """PIDs whose network namespace is `ns_id` (what `ip netns pids` lists, but by identity,
    so it keeps working once the namespace's name is deleted)."""
    return pids_in_namespace("net", ns_id)


def pids_in_namespace(kind: str, ns_id: tuple[int, int]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if _ns_id(f"/proc/{entry}/ns/{kind}") == ns_id:
                    pids.append(int(entry))
            except OSError:  # exited meanwhile, or a kernel thread
                pass
    return pids


def _zombies(pids: set[int]) -> list[int]:
    """Which of `pids` are zombies (killed, not yet reaped by their parent)."""
    left = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                # the state follows the parenthesised command name, which may hold spaces
                if fh.read().rpartition(")")[2].split()[0] == "Z":
                    left.append(pid)
        except OSError:
            pass  # reaped
    return sorted(left)


def listening_ports(netns: str) -> list[tuple[str, int, str]]:
    """(address, port, process) of every listening TCP socket in a network namespace."""
    result = []
    for line in _run(["ip", "netns", "exec", netns, "ss", "-Hltnp"]).stdout.splitlines():
        cols = line.split()
        addr, _, port = cols[3].rpartition(":")
        result.append((addr, int(port), cols[5] if len(cols) > 5 else ""))
    return result


def _raise_system_exit(signum, frame):
    raise SystemExit(128 + signum)


class TwoMachines:
    """Context manager: namespaces A and B, a veth between them, a token, `ray start` on both;
    everything removed on exit.

    `private_dirs` maps folders to the (empty) folders machine B sees in their place; B's
    writes there land in the backing folder, where the host can read them.
    """

    def __init__(self, private_dirs: dict[Path, Path] | None = None, num_cpus: int = 1,
                 object_store_memory: int = 100 * 2**20, ports: PortPlan = PortPlan(),
                 subnet: str = "10.200.0", start_timeout_s: float = 60.0):
        self.python = sys.executable
        self.ray_bin = str(Path(sys.executable).parent / "ray")
        self.private_dirs = dict(private_dirs or {})
        self.num_cpus = num_cpus
        self.object_store_memory = object_store_memory
        self.ports = ports
        self.start_timeout_s = start_timeout_s
        # random suffix: concurrent runs must not collide (interface names: 15 characters)
        sfx = secrets.token_hex(3)
        self.head = Machine("A", f"{PREFIX}A-{sfx}", f"{PREFIX}a{sfx}", f"{subnet}.1")
        self.worker = Machine("B", f"{PREFIX}B-{sfx}", f"{PREFIX}b{sfx}", f"{subnet}.2")
        self.timings: dict[str, float] = {}
        self.killed: set[int] = set()
        self._created_ns: list[Machine] = []
        self._veth_created = False
        self._mount_ns: set[tuple[int, int]] = set()  # B's private mount namespace
        self._torn_down = False
        self._old_sigterm = None

    @property
    def machines(self) -> tuple[Machine, Machine]:
        return self.head, self.worker

    @property
    def address(self) -> str:
        """What `--ray-address` takes: the head's GCS."""
        return f"{self.head.ip}:{self.ports.gcs}"

    def env_for(self, machine: Machine) -> dict[str, str]:
        """The environment of every Ray process on `machine`: `ray start`, drivers.

        The caller's environment minus any RAY_* (a token or address of some other cluster
        must not leak in), with the machine's own $HOME, where Ray finds ~/.ray/auth_token,
        and RAY_AUTH_MODE=token, which every node and driver needs explicitly."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(HOME=str(machine.home), RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0",
                   PYTHONDONTWRITEBYTECODE="1")
        return env

    def run_in(self, machine: Machine, args: list[str], timeout: float, **kw):
        """Run `args` on `machine` (in its network namespace, with its environment); returns
        the CompletedProcess, whatever its exit code."""
        return subprocess.run(["ip", "netns", "exec", machine.netns, *args],
                              env=self.env_for(machine), timeout=timeout, capture_output=True,
                              text=True, **kw)

    def run_in_view_of(self, machine: Machine, args: list[str]) -> str:
        """Run `args` in the mount namespace of `machine`'s raylet (what its trials see of the
        filesystem); returns stdout."""
        return _run(["nsenter", f"--target={self.raylet_pid(machine)}", "--mount", "--", *args],
                    timeout=30).stdout

    def raylet_pid(self, machine: Machine) -> int:
        for pid in pids_in_netns(machine.netns_id):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"/raylet"):
                return pid
        raise RuntimeError(f"no raylet runs on machine {machine.label}")

    def node_id(self, machine: Machine) -> str:
        """Ray's id of the node on `machine`, from its raylet's --node_id flag."""
        argv = Path(f"/proc/{self.raylet_pid(machine)}/cmdline").read_bytes().decode().split("\0")
        for arg in argv:
            if arg.startswith(("--node_id=", "--node-id=")):
                return arg.split("=", 1)[1]
        raise RuntimeError(f"raylet of machine {machine.label} has no --node_id flag: {argv}")

    # -- setup ---------------------------------------------------------------------------------

    def __enter__(self) -> "TwoMachines":
        t0 = time.monotonic()
        # Python's default SIGTERM action ends the process without running __exit__, which
        # would strand namespaces and Ray daemons: make it a SystemExit while we hold them.
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_system_exit)
        try:
            self._setup_network()
            self._setup_folders()
            self._generate_and_copy_token()
            self.timings["network_s"] = time.monotonic() - t0
            self._ray_start(self.head, ["--head", f"--port={self.ports.gcs}",
                                        "--include-dashboard=false"])
            self.timings["head_s"] = time.monotonic() - t0 - self.timings["network_s"]
            t1 = time.monotonic()
            self._ray_start(self.worker, [f"--address={self.address}"])
            self.timings["worker_s"] = time.monotonic() - t1
            self._mount_ns = {_ns_id(f"/proc/{pid}/ns/mnt")
                              for pid in pids_in_netns(self.worker.netns_id)}
        except BaseException:
            self.teardown()
            raise
        self.timings["setup_s"] = time.monotonic() - t0
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def _setup_network(self) -> None:
        for machine in self.machines:
            _run(["ip", "netns", "add", machine.netns])
            self._created_ns.append(machine)
            machine.netns_id = _ns_id(f"/run/netns/{machine.netns}")
        # made in the root namespace, then each end is moved: from then on the pair goes away
        # with the namespaces
        _run(["ip", "link", "add", self.head.veth, "type", "veth",
              "peer", "name", self.worker.veth])
        self._veth_created = True
        for machine in self.machines:
            _run(["ip", "link", "set", machine.veth, "netns", machine.netns])
            _run(["ip", "-n", machine.netns, "addr", "add", f"{machine.ip}/24",
                  "dev", machine.veth])
            _run(["ip", "-n", machine.netns, "link", "set", machine.veth, "up"])
            # a node's own processes also talk over 127.0.0.1, and a new namespace has lo down
            _run(["ip", "-n", machine.netns, "link", "set", "lo", "up"])

    def _setup_folders(self) -> None:
        for machine in self.machines:
            prefix = f"{PREFIX}{machine.label}"
            machine.home = Path(tempfile.mkdtemp(prefix=f"{prefix}h-", dir="/tmp"))
            machine.temp_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp"))
            if len(str(machine.temp_dir)) + RAY_SOCKET_SUFFIX_RESERVE > MAX_UNIX_SOCKET_PATH:
                raise RuntimeError(f"temp dir too long for Ray's Unix sockets: {machine.temp_dir}")
        for target, backing in self.private_dirs.items():
            Path(target).mkdir(parents=True, exist_ok=True)  # a mount point must exist
            Path(backing).mkdir(parents=True, exist_ok=True)

    def _generate_and_copy_token(self) -> None:
        # On the head machine, as the user does: writes ~/.ray/auth_token there ...
        _run([self.ray_bin, "get-auth-token", "--generate"], env=self.env_for(self.head),
             timeout=60)
        # ... and copy it to the other machine (scp, a secret store: the token lets whoever
        # holds it run any code on the cluster).
        self.worker.token_file.parent.mkdir(mode=0o700)
        shutil.copy2(self.head.token_file, self.worker.token_file)
        self.worker.token_file.chmod(0o600)

    def _ray_start(self, machine: Machine, flags: list[str]) -> None:
        command = [self.ray_bin, "start", *flags, f"--node-ip-address={machine.ip}",
                   f"--num-cpus={self.num_cpus}",
                   f"--object-store-memory={self.object_store_memory}",
                   f"--temp-dir={machine.temp_dir}", "--disable-usage-stats",
                   *self.ports.node_flags()]
        if machine is self.worker and self.private_dirs:
            # A mount namespace of its own, private so that its mounts never propagate to the
            # host; there the empty folders cover the real ones, then `ray start` replaces sh.
            pairs = [str(p) for target, backing in self.private_dirs.items()
                     for p in (backing, target)]
            script = ('while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; '
                      'shift; exec "$@"')
            command = ["unshare", "--mount", "--propagation", "private", "--",
                       "sh", "-c", script, "sh", *pairs, "--", *command]
        # a file, not a pipe: the daemons `ray start` leaves running must not hold a pipe of
        # ours open
        log = machine.home / "ray_start.log"
        with open(log, "w") as fh:
            res = subprocess.run(["ip", "netns", "exec", machine.netns, *command],
                                 env=self.env_for(machine), stdout=fh, stderr=subprocess.STDOUT,
                                 timeout=self.start_timeout_s)
        if res.returncode != 0:
            raise RuntimeError(f"ray start on machine {machine.label} failed:\n"
                               f"{log.read_text()[-4000:]}")

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self, timeout_s: float = 20.0) -> None:
        """Kill our processes, delete the namespaces, the veth and the folders; raise if
        anything is left, after trying every step. Safe to call twice."""
        if self._torn_down:
            return
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        t0 = time.monotonic()
        errors: list[str] = []
        ns_ids = [m.netns_id for m in self._created_ns]

        # 1. Processes: SIGKILL at once (a graceful SIGTERM left gcs_server and raylet alive
        #    for seconds, and nothing here needs a graceful end), in a loop, since a raylet may
        #    start a worker between the scan and the kill.
        deadline = time.monotonic() + timeout_s
        while alive := [pid for ns in ns_ids for pid in pids_in_netns(ns)]:
            if time.monotonic() > deadline:
                errors.append(f"processes still alive in our namespaces: {alive}")
                break
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        # Ray's daemons were reparented to PID 1, which reaps them in its own time; a zombie
        # has no namespace any more, holds no port, memory or file: wait briefly, then only
        # report it (leftovers()).
        reap_deadline = time.monotonic() + 10.0
        while _zombies(self.killed) and time.monotonic() < reap_deadline:
            time.sleep(0.2)

        # 2. Namespaces; the veth ends inside them go with them.
        for machine in self._created_ns:
            res = subprocess.run(["ip", "netns", "del", machine.netns],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                errors.append(f"ip netns del {machine.netns}: {res.stderr.strip()}")
        # 3. A veth still in the root namespace (setup failed before moving it).
        if self._veth_created:
            for machine in self.machines:
                if Path(f"/sys/class/net/{machine.veth}").exists():
                    subprocess.run(["ip", "link", "del", machine.veth], capture_output=True)
                    if Path(f"/sys/class/net/{machine.veth}").exists():
                        errors.append(f"veth {machine.veth} still exists")
        # 4. Folders: sockets, logs, spilled objects, the token.
        for machine in self.machines:
            for folder in (machine.temp_dir, machine.home):
                if folder is not None and folder.exists():
                    shutil.rmtree(folder, ignore_errors=True)
                    if folder.exists():
                        errors.append(f"could not remove {folder}")

        self._torn_down = True
        self.timings["teardown_s"] = time.monotonic() - t0
        if errors:
            raise RuntimeError("teardown incomplete: " + "; ".join(errors))

    def leftovers(self) -> dict[str, list]:
        """What of ours is still on the host: every list is empty after a clean teardown."""
        names = _run(["ip", "netns", "list"]).stdout.split()
        mountinfo = Path("/proc/self/mountinfo").read_text()
        return {
            "netns": [m.netns for m in self.machines if m.netns in names],
            "veth": [m.veth for m in self.machines if Path(f"/sys/class/net/{m.veth}").exists()],
            "pids": [pid for m in self._created_ns for pid in pids_in_netns(m.netns_id)],
            "zombies": _zombies(self.killed),
            # B's private mount namespace lives as long as a process in it
            "mount_ns_pids": [pid for ns in self._mount_ns for pid in pids_in_namespace("mnt", ns)],
            "host_mounts": [str(t) for t in self.private_dirs if f" {t} " in mountinfo],
            "dirs": [str(d) for m in self.machines for d in (m.temp_dir, m.home)
                     if d is not None and d.exists()],
        }


def cleanup_stale() -> list[str]:
    """Remove what a SIGKILLed run left: namespaces hpons{A,B}-* with their processes, folders
    /tmp/hpons{A,B}*. Do not run it beside a live run: it cannot tell one from a stale one."""
    done = []
    for name in _run(["ip", "netns", "list"]).stdout.split():
        if name.startswith((f"{PREFIX}A-", f"{PREFIX}B-")):
            for pid in pids_in_netns(_ns_id(f"/run/netns/{name}")):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            done.append(f"netns {name}")
    for folder in Path("/tmp").glob(f"{PREFIX}[AB]*"):
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"folder {folder}")
    return done


if __name__ == "__main__":
    if sys.argv[1:] != ["cleanup-stale"]:
        sys.exit("usage: python -m tests.netns_cluster cleanup-stale")
    print("\n".join(cleanup_stale()) or "nothing to clean")
