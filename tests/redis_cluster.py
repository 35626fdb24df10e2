"""A real Redis Cluster (3 masters, 3 replicas) and a Sentinel-watched pair on loopback, for tests.

Started from the machine's `redis-server` and `redis-cli` (`.ci/run` installs them), each node on a free port
in a private directory, without persistence; stopped and removed afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.redis_server import free_port, reachable


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (.ci/run installs redis-server with apt-get)")
    return path


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is valid and free too."""
    import socket

    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready in {timeout} s")
        time.sleep(0.05)


@dataclass
class Node:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> Node:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: reachable("127.0.0.1", self.port), 10, f"redis-server on {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Cluster:
    root: Path
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def start(self) -> Cluster:
        for i in range(6):
            node = Node(self.root / f"node{i}", cluster_port())
            node.start("--cluster-enabled", "yes", "--cluster-config-file", str(self.root / f"node{i}.conf"),
                       "--cluster-node-timeout", "2000")
            self.nodes.append(node)
        subprocess.run([_binary("redis-cli"), "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in self.nodes), "--cluster-replicas", "1",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        _wait(self._ready, 30, "the cluster")
        return self

    def _ready(self) -> bool:
        for node in self.nodes:
            info = node.client().cluster("info")
            if info.get("cluster_state") != "ok":
                return False
        return all(self.replica_of(self.master_of_slot(slot)) for slot in (0, 8000, 16000))

    def master_of_slot(self, slot: int) -> Node:
        for start, end, master, *_ in self.nodes[0].client().execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                port = int(master[1])
                return next(n for n in self.nodes if n.port == port)
        raise KeyError(slot)

    def replica_of(self, master: Node) -> Node | None:
        for node in self.nodes:
            role = node.client().execute_command("ROLE")
            if role[0] == b"slave" and int(role[2]) == master.port and role[3] == b"connected":
                return node
        return None

    def failover(self, key: str) -> tuple[Node, Node]:
        """Promote the replica of the master holding `key` (a coordinated failover: nothing is lost)."""
        slot = int(self.nodes[0].client().cluster("keyslot", key))
        master = self.master_of_slot(slot)
        replica = self.replica_of(master)
        assert replica is not None, "the master has no connected replica"
        replica.client().cluster("failover")
        _wait(lambda: self.master_of_slot(slot).port == replica.port, 30, "the failover")
        return master, replica

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class SentinelSet:
    """A master, one replica and one Sentinel (quorum 1) watching them as service `prguard`."""

    root: Path
    master: Node | None = None
    replica: Node | None = None
    sentinel_port: int = field(default_factory=free_port)
    sentinel: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/prguard"

    def start(self) -> SentinelSet:
        self.master = Node(self.root / "master").start()
        self.replica = Node(self.root / "replica").start("--replicaof", "127.0.0.1", str(self.master.port))
        conf = self.root / "sentinel.conf"
        conf.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.root}\n"
                        f"sentinel monitor prguard 127.0.0.1 {self.master.port} 1\n"
                        "sentinel down-after-milliseconds prguard 1000\n"
                        "sentinel failover-timeout prguard 5000\n")
        self.sentinel = subprocess.Popen([_binary("redis-server"), str(conf), "--sentinel"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: reachable("127.0.0.1", self.sentinel_port), 10, "the sentinel")
        _wait(self._replicated, 20, "the replica")
        return self

    def _replicated(self) -> bool:
        assert self.replica is not None
        role = self.replica.client().execute_command("ROLE")
        return role[3] == b"connected"

    def master_port(self) -> int:
        client = redis.Redis(port=self.sentinel_port, socket_timeout=5)
        _host, port = client.execute_command("SENTINEL", "get-master-addr-by-name", "prguard")
        return int(port)

    def failover(self) -> None:
        assert self.master is not None and self.replica is not None
        old = self.master_port()
        redis.Redis(port=self.sentinel_port, socket_timeout=5).execute_command("SENTINEL", "failover",
                                                                                "prguard")
        _wait(lambda: self.master_port() != old, 30, "the sentinel failover")

    def stop(self) -> None:
        if self.sentinel is not None and self.sentinel.poll() is None:
            self.sentinel.kill()
            self.sentinel.wait(10)
        for node in (self.master, self.replica):
            if node is not None:
                node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
