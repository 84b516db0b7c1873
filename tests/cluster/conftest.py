"""A real two-node Ray cluster on loopback (127.0.0.2 head, 127.0.0.3 worker), shared by
the cluster tests of a session; tests that break a node start a cluster of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iomqa.bench.ray_cluster import LocalCluster, start_local_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    cluster = start_local_cluster(nodes=2, cpus_per_node=1)
    try:
        yield cluster
    finally:
        cluster.stop()
