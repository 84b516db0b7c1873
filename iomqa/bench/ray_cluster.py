"""A Ray cluster of one or more nodes on this machine, every node on its own loopback
address, for the cluster tests and the scaling benchmarks.

Ray advertises a node under the machine's network address unless told otherwise, and its
internal traffic would then leave loopback: each node is pinned with
`--node-ip-address` (127.0.0.2 for the head, 127.0.0.3 for the next, …). Nodes are
stopped by the PIDs this module started, never with `ray stop` or by name, which would
also stop clusters it does not own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from iomqa.bench.server import free_port

READY = "Ray runtime started"
# Without it a stopping node waits for its tasks to drain: 30 s by default.
_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


class ClusterStartError(RuntimeError):
    pass


@dataclass
class Node:
    ip: str
    process: subprocess.Popen[bytes]
    log: Path

    def tree_pids(self) -> list[int]:
        """The node's processes: `ray start` and everything below it."""
        return _descendants(self.process.pid)

    def raylet_pid(self) -> int | None:
        for pid in self.tree_pids():
            if _comm(pid) == "raylet":
                return pid
        return None

    def rss_bytes(self) -> int:
        """Resident memory of the node's processes (shared pages counted in each)."""
        return sum(_rss(pid) for pid in self.tree_pids())


@dataclass
class LocalCluster:
    address: str
    temp_dir: Path
    nodes: list[Node] = field(default_factory=list)

    def add_node(self, ip: str, cpus: int = 1, timeout_s: float = 60.0) -> Node:
        """Start a worker node on `ip` and wait until it has joined."""
        log = self.temp_dir / f"node-{ip}.log"
        command = [*_ray(), "start", "--block", f"--address={self.address}"]
        node = _start(command, ip, cpus, log, timeout_s)
        self.nodes.append(node)
        return node

    def stop_node(self, node: Node, timeout_s: float = 30.0) -> None:
        _stop(node.process, timeout_s)
        self.nodes.remove(node)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Workers first, then the head; each by its own PID."""
        for node in reversed(self.nodes):
            _stop(node.process, timeout_s)
        self.nodes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_cluster(
    nodes: int = 2, cpus_per_node: int = 1, first_ip: str = "127.0.0.2", timeout_s: float = 60.0
) -> LocalCluster:
    """A head on `first_ip` and `nodes - 1` workers on the next loopback addresses."""
    prefix, last = first_ip.rsplit(".", 1)
    # Unix socket paths under the temp dir are limited to about 107 characters.
    temp_dir = Path(tempfile.mkdtemp(prefix="iomqa-ray-", dir="/tmp"))
    port = free_port(first_ip)
    command = [
        *_ray(),
        "start",
        "--block",
        "--head",
        f"--port={port}",
        "--include-dashboard=false",
        f"--temp-dir={temp_dir}",
    ]
    cluster = LocalCluster(f"{first_ip}:{port}", temp_dir)
    try:
        head = _start(command, first_ip, cpus_per_node, temp_dir / "head.log", timeout_s)
        cluster.nodes.append(head)
        for i in range(1, nodes):
            cluster.add_node(f"{prefix}.{int(last) + i}", cpus_per_node, timeout_s)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _ray() -> list[str]:
    """The `ray` command of this interpreter's environment."""
    return [str(Path(sys.executable).with_name("ray"))]


def _start(command: list[str], ip: str, cpus: int, log: Path, timeout_s: float) -> Node:
    full = [*command, f"--node-ip-address={ip}", f"--num-cpus={cpus}", "--disable-usage-stats"]
    with log.open("wb") as out:
        # A session of its own: signals meant for the caller (Ctrl-C in a test run) do
        # not reach the node halfway; stop() ends it.
        process = subprocess.Popen(
            full,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_ENV},
            start_new_session=True,
        )
    node = Node(ip, process, log)
    deadline = time.monotonic() + timeout_s
    while READY not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process, 10.0)
            tail = log.read_text(errors="replace")[-2000:]
            raise ClusterStartError(f"ray node on {ip} did not start:\n{tail}")
        time.sleep(0.2)
    return node


def _stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM to `ray start --block`, which stops its node's processes; SIGKILL to
    whatever of that node is left after `timeout_s`."""
    if process.poll() is not None:
        return
    pids = _descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
        return
    except subprocess.TimeoutExpired:
        pass
    # A node that did not stop cleanly: its processes as they were, by PID.
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for child in _children(pid):
        found.extend(_descendants(child))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
