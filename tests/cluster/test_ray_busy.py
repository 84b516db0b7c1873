"""A distributed build beside other work on the cluster (replicas of `iomqa serve --ray`
hold a CPU each): it embeds with the CPUs that are free instead of waiting for all."""

from __future__ import annotations

from pathlib import Path

from core.cluster import import_ray
from core.models import ModelSource
from index.build import BuildConfig, build_index
from ingest.embed import HashingEmbedder
from ingest.ray_backend import ray_executor
from iomqa.bench.ray_cluster import LocalCluster
from tests.conftest import FAKE_MODEL, write_small_corpus


class Holder:
    def ready(self) -> bool:
        return True


def test_a_build_uses_the_free_cpus(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    config = BuildConfig(corpus_dir=corpus, index_dir=tmp_path / "index")
    with ray_executor(ray_cluster.address, FAKE_MODEL, ModelSource()) as executor:
        ray = import_ray()
        holder = ray.remote(num_cpus=1)(Holder).remote()
        assert ray.get(holder.ready.remote(), timeout=60)
        try:
            report = build_index(config, HashingEmbedder(64), executor=executor)
        finally:
            ray.kill(holder)
    assert report.published and report.embedded == report.passages > 0
