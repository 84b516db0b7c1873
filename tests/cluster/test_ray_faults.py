"""A node lost in the middle of a distributed build: Ray redoes its work and the build
publishes a correct, verified generation. On a cluster of its own, since it breaks one."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.models import ModelSource
from index.build import BuildConfig, build_index
from index.generations import current_generation
from index.searcher import Searcher
from ingest.embed import make_embedder
from ingest.ray_backend import ray_executor
from iomqa.bench.ray_cluster import LocalCluster, start_local_cluster
from tests.cluster.generation import assert_same_generation
from tests.conftest import CORPUS, FAKE_MODEL

# Small blocks: many of them are still to come when the node goes.
BLOCK_TEXTS = 64


@pytest.fixture
def own_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    # The head declares a silent node dead after about 1.5 s instead of about 15 s.
    monkeypatch.setenv("RAY_health_check_period_ms", "500")
    monkeypatch.setenv("RAY_health_check_timeout_ms", "500")
    monkeypatch.setenv("RAY_health_check_failure_threshold", "3")
    cluster = start_local_cluster(nodes=2, cpus_per_node=1, first_ip="127.0.0.4")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_a_build_survives_losing_a_node(own_cluster: LocalCluster, tmp_path: Path) -> None:
    embedder = make_embedder(FAKE_MODEL)
    reference = tmp_path / "local"
    build_index(BuildConfig(corpus_dir=CORPUS, index_dir=reference), embedder)

    second = own_cluster.nodes[1]
    killed: list[tuple[int, int]] = []

    # One CPU per node and one actor per CPU: the second node holds an actor and its
    # queued blocks when its raylet goes.
    def progress(stage: str, done: int, total: int) -> None:
        raylet = second.raylet_pid()
        if stage == "embed" and 0 < done < total and not killed and raylet is not None:
            os.kill(raylet, signal.SIGKILL)
            killed.append((done, total))

    index_dir = tmp_path / "ray"
    with ray_executor(
        own_cluster.address, FAKE_MODEL, ModelSource(), block_texts=BLOCK_TEXTS
    ) as executor:
        report = build_index(
            BuildConfig(corpus_dir=CORPUS, index_dir=index_dir),
            embedder,
            progress,
            executor=executor,
        )
    assert killed, "the build ended before the node could be killed"
    done, total = killed[0]
    assert total - done > BLOCK_TEXTS * 4  # most of the work was still to do
    assert report.published and report.embedded == report.passages
    Searcher.open(current_generation(index_dir), embedder).close()
    assert_same_generation(index_dir, reference)
