"""Joining a Ray cluster as a driver: the one way distributed ingest (`iomqa ingest --ray`)
and replicated serving (`iomqa serve --ray`) connect.

Ray is an optional extra (`pip install -e '.[ray]'`), so it is imported inside
`import_ray` only: everything else runs where Ray is not installed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from types import ModuleType

from core.errors import ClusterError

EXTRA = "pip install -e '.[ray]'"
CONNECT_TIMEOUT_S = 3.0


def import_ray() -> ModuleType:
    """Ray, or a ClusterError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"Ray is not installed; install the extra: {EXTRA}") from exc
    return ray


def gcs_endpoint(address: str) -> tuple[str, int]:
    """HOST:PORT of a cluster's head (its GCS) as a host and a port."""
    host, _, port = address.strip().removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"Ray address {address!r}: expected HOST:PORT of the head node")
    return host.strip("[]"), int(port)


def check_reachable(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast: `ray.init` retries an absent head for a long time before giving up."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterError(
            f"Ray cluster at {host}:{port} is unreachable ({exc}); start its head "
            "(`ray start --head`) or correct --ray / IOMQA_RAY_ADDRESS"
        ) from exc


def driver_ip(host: str) -> str | None:
    """The address this driver registers under: the head's own when the head is on
    loopback, so no traffic of a local cluster leaves loopback (Ray would advertise the
    machine's network address); else Ray's choice."""
    try:
        address = socket.gethostbyname(host)  # an IP address resolves to itself
        return address if ipaddress.ip_address(address).is_loopback else None
    except (OSError, ValueError):  # an unknown name, or an IPv6 literal
        pass
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def join(address: str) -> ModuleType:
    """Connect this process to the cluster at `address` as a driver; Ray, connected.

    Nothing is started on an unreachable or unusable cluster: the error comes first.
    """
    ray = import_ray()
    host, port = gcs_endpoint(address)
    check_reachable(host, port)
    try:
        ray.init(
            address=f"{host}:{port}",
            _node_ip_address=driver_ip(host),
            # Workers' output stays in the nodes' logs: `--json` prints only JSON.
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except Exception as exc:  # Ray raises several unrelated types for a bad cluster
        raise ClusterError(f"cannot join the Ray cluster at {host}:{port}: {exc}") from exc
    return ray
