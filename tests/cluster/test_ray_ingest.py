"""`iomqa ingest --ray` on a real two-node loopback cluster, with the packaged model on
the real corpus: the same generation as a build on this machine, through the cache."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.models import BASE_MODEL, ModelSource
from index.build import BuildConfig, build_index
from index.generations import GENERATIONS, current_version
from ingest.embed import make_embedder
from iomqa.bench.ray_cluster import LocalCluster
from iomqa.bench.server import free_port
from tests.cluster.generation import assert_same_generation, cached_vectors, iomqa
from tests.conftest import CORPUS, FAKE_MODEL, write_small_corpus

NEW_REPORT = """# Seasonal workers in coastal fisheries

Seasonal fishery workers moved between three coastal provinces in 2024. Their contracts
ran for six months and were renewed by the cooperative each spring.

## Recommendations

Provinces should recognise the workers' health insurance across borders.
"""


@dataclass(frozen=True)
class Builds:
    local: Path
    ray: Path
    address: str
    ray_env: dict[str, str]
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def builds(
    ray_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Builds:
    """The corpus built on this machine, then with `iomqa ingest --ray` (cold)."""
    root = tmp_path_factory.mktemp("ray-ingest")
    local = root / "local"
    # Local first: it exports the ONNX model into the cache both builds share.
    build_index(
        BuildConfig(corpus_dir=CORPUS, index_dir=local),
        make_embedder(BASE_MODEL, ModelSource(None, model_cache)),
    )
    env = {
        "IOMQA_CORPUS_DIR": str(CORPUS),
        "IOMQA_INDEX_DIR": str(root / "ray"),
        "IOMQA_MODEL": BASE_MODEL,
        "IOMQA_MODEL_CACHE_DIR": str(model_cache),
    }
    done = iomqa("ingest", "--json", "--ray", ray_cluster.address, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return Builds(local, root / "ray", ray_cluster.address, env, json.loads(done.stdout))


@pytest.mark.integration
def test_a_distributed_build_equals_the_single_machine_build(builds: Builds) -> None:
    assert builds.summary["published"] is True
    assert builds.summary["passages"] == builds.summary["embedded"] > 0
    assert [d["status"] for d in builds.summary["documents"]] == ["ok"] * 5
    assert_same_generation(builds.ray, builds.local)


@pytest.mark.integration
def test_the_cluster_embeds_only_what_the_cache_lacks(builds: Builds, tmp_path: Path) -> None:
    noop = iomqa("ingest", "--json", "--ray", builds.address, env=builds.ray_env)
    assert noop.returncode == 0, noop.stderr[-3000:]
    assert json.loads(noop.stdout)["embedded"] == 0
    assert json.loads(noop.stdout)["up_to_date"] is True

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "seasonal-workers.md").write_text(NEW_REPORT, encoding="utf-8")
    before = cached_vectors(builds.ray)
    env = {**builds.ray_env, "IOMQA_CORPUS_DIR": str(corpus)}
    added = iomqa("ingest", "--json", "--ray", builds.address, env=env)
    assert added.returncode == 0, added.stderr[-3000:]
    summary = json.loads(added.stdout)
    assert summary["added"] == ["seasonal-workers.md"] and len(summary["unchanged"]) == 5
    new = next(d for d in summary["documents"] if d["source"] == "seasonal-workers.md")
    # Only the new report's passages missed the cache (their sentences rode along).
    assert summary["embedded"] == new["passages"] > 0
    assert cached_vectors(builds.ray) > before


def test_an_unreachable_cluster_is_a_clear_error_and_publishes_nothing(tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    env = {"IOMQA_CORPUS_DIR": str(corpus), "IOMQA_INDEX_DIR": str(index_dir)}
    assert iomqa("ingest", env=env).returncode == 0
    served = current_version(index_dir)
    (corpus / "new.md").write_text(NEW_REPORT, encoding="utf-8")  # work to do, if it started
    address = f"127.0.0.2:{free_port('127.0.0.2')}"  # nothing listens there
    started = time.monotonic()
    done = iomqa("ingest", "--ray", address, env={**env, "IOMQA_MODEL": FAKE_MODEL})
    assert time.monotonic() - started < 30
    assert done.returncode == 2
    assert f"Ray cluster at {address} is unreachable" in done.stderr
    assert "Traceback" not in done.stderr
    from_settings = iomqa("ingest", env={**env, "IOMQA_RAY_ADDRESS": address})
    assert from_settings.returncode == 2 and "unreachable" in from_settings.stderr
    assert current_version(index_dir) == served
    assert [p.name for p in (index_dir / GENERATIONS).iterdir()] == [served]
