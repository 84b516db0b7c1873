"""PDFs parsed on the cluster are read as locally: in a child process under PdfLimits."""

from __future__ import annotations

from pathlib import Path

from core.models import ModelSource
from index.build import BuildConfig, build_index
from ingest.embed import HashingEmbedder
from ingest.pdf import PdfLimits
from ingest.ray_backend import ray_executor
from iomqa.bench.ray_cluster import LocalCluster
from tests.cluster.generation import assert_same_generation
from tests.conftest import FAKE_MODEL, write_small_corpus
from tests.test_pdf import make_pdf
from tests.test_pdf_samples import slow_pdf


def test_pdf_limits_hold_on_the_cluster(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    make_pdf(corpus / "proceedings.pdf")
    slow_pdf(corpus / "slow.pdf")
    (corpus / "empty.pdf").write_bytes(b"")
    config = BuildConfig(corpus_dir=corpus, index_dir=tmp_path / "ray", pdf=PdfLimits(2.0))
    embedder = HashingEmbedder(64)
    with ray_executor(ray_cluster.address, FAKE_MODEL, ModelSource()) as executor:
        on_cluster = build_index(config, embedder, executor=executor)
    local = build_index(
        BuildConfig(corpus_dir=corpus, index_dir=tmp_path / "local", pdf=PdfLimits(2.0)), embedder
    )
    statuses = {d.source: d.status for d in on_cluster.documents}
    assert statuses["proceedings.pdf"] == "ok"
    assert statuses["slow.pdf"] == "timeout"  # killed by its wall-clock limit
    assert on_cluster.documents == local.documents
    assert_same_generation(tmp_path / "ray", tmp_path / "local")
