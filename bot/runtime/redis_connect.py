"""One place that turns `REDIS_URL` into a client: a single server, a Redis Cluster or Sentinel failover.

- `redis://` / `rediss://` (TLS) / `unix://`: one server.
- `redis+cluster://host:port[,host:port...]` (or `rediss+cluster://`): a Redis Cluster, reached through any of
  the listed nodes. Every key prguard writes carries the hash tag of its prefix (`{prguard}:jobs`, see
  `cluster_prefix`), so the enqueue script, the scheduler's script and every pipeline touch one slot.
- `redis+sentinel://host:port[,host:port...]/SERVICE[/DB]` (or `rediss+sentinel://`): the master Sentinel
  names for SERVICE; after a failover the client finds the new master by itself.

Both multi-node forms accept a password (`redis+cluster://:secret@host:port`). The runtime code is the same
for all three: redis-py's cluster and sentinel clients speak the same asyncio API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SENTINEL_SCHEMES = {"redis+sentinel": "redis", "rediss+sentinel": "rediss"}
SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES, *SENTINEL_SCHEMES)


def kind(url: str) -> str:
    """"cluster", "sentinel" or "single"."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in CLUSTER_SCHEMES:
        return "cluster"
    if scheme in SENTINEL_SCHEMES:
        return "sentinel"
    return "single"


def cluster_prefix(prefix: str, url: str) -> str:
    """The key prefix to use: on a cluster, wrapped in a hash tag unless it already holds one."""
    if kind(url) == "cluster" and "{" not in prefix:
        return "{" + prefix + "}"
    return prefix


def _nodes(netloc: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    auth, _, hosts = netloc.rpartition("@")
    username, _, password = auth.partition(":") if auth else ("", "", "")
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host:
            raise ValueError("every node needs host:port")
        nodes.append((host.strip("[]"), int(port)))
    return nodes, unquote(username) or None, unquote(password) or None


#: TLS settings a `rediss+cluster://` or `rediss+sentinel://` URL may carry as query parameters, as redis-py
#: reads them from a single server's URL (`?ssl_ca_certs=/path/ca.pem`)
TLS_OPTIONS = frozenset({"ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs",
                         "ssl_check_hostname"})


def connect(url: str, *, max_connections: int = 64, wait: float | None = 3.0, socket_timeout: float = 3.0,
            socket_connect_timeout: float = 2.0, retry: Any = None, **extra: Any) -> Any:
    """A client for `url`. `wait` (single server only) makes a burst wait for a free pooled connection."""
    split = urlsplit(url)
    scheme = split.scheme.lower()
    common: dict[str, Any] = {"socket_timeout": socket_timeout,
                              "socket_connect_timeout": socket_connect_timeout, **extra}
    # a single server's URL gives redis-py its TLS options itself; a cluster's or Sentinel's are read here
    tls_options = {k: v for k, v in parse_qsl(split.query) if k in TLS_OPTIONS}
    if scheme in CLUSTER_SCHEMES:
        nodes, username, password = _nodes(split.netloc)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes], username=username,
            password=password, ssl=CLUSTER_SCHEMES[scheme] == "rediss", max_connections=max_connections,
            **tls_options, **common,  # its own retry policy: it follows MOVED/ASK and a failover by itself
        )
    if scheme in SENTINEL_SCHEMES:
        nodes, username, password = _nodes(split.netloc)
        parts = [p for p in split.path.split("/") if p]
        if not parts:
            raise ValueError("a sentinel URL names the service: redis+sentinel://host:port/SERVICE[/DB]")
        service, db = parts[0], int(parts[1]) if len(parts) > 1 else 0
        tls = SENTINEL_SCHEMES[scheme] == "rediss"
        sentinel_kwargs = {"socket_timeout": socket_timeout, "ssl": tls, **tls_options}
        sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_kwargs, ssl=tls, username=username,
                            password=password, db=db, **tls_options, **common)
        return sentinel.master_for(service, max_connections=max_connections, retry=retry)
    if wait is not None:
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait,
                                               retry=retry, **common)
        return Redis.from_pool(pool)
    return Redis.from_url(url, max_connections=max_connections, retry=retry, **common)


def stale_connection_retry() -> Retry:
    """The retry policy of prguard's Redis pools: once, at once, on a connection error only.

    Pooled connections go stale whenever Redis restarts, fails over or closes idle clients (managed Redis
    often does after 5 minutes); without this the first command on each stale connection failed — for the
    receiver, a 503 that GitHub never redelivers by itself. Retrying the enqueue script is safe: if the
    first try ran, the retry finds the delivery mark. Timeouts are not retried, so a hung Redis stays a
    quick failure.
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
