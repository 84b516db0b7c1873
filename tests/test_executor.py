"""The build's executor seam and the pure parts of the Ray backend, without Ray."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.cluster import check_reachable, driver_ip, gcs_endpoint, import_ray
from core.errors import ClusterError
from core.models import ModelSource
from index.build import BuildConfig, build_index
from index.embedcache import EmbeddingCache
from ingest.chunk import ChunkParams
from ingest.embed import HashingEmbedder
from ingest.executor import LOCAL, Parsed, ParseFailure, ParseJob
from ingest.pdf import PageProgress, PdfLimits
from ingest.ray_backend import absolute, block_bounds, ray_executor
from ingest.vectors import Embedder, Vectors
from iomqa.bench.server import free_port
from tests.cluster.generation import assert_same_generation
from tests.conftest import write_small_corpus


class Spy:
    """The local executor in one large block per call, recording what it was given."""

    def __init__(self) -> None:
        self.parsed: list[list[str]] = []
        self.encoded: list[list[str]] = []

    def parse(
        self,
        jobs: Sequence[ParseJob],
        params: ChunkParams,
        limits: PdfLimits,
        on_pages: PageProgress | None = None,
    ) -> Iterator[Parsed]:
        self.parsed.append([job.file.source for job in jobs])
        return LOCAL.parse(jobs, params, limits, on_pages)

    def encode(
        self, texts: Sequence[str], embedder: Embedder, batch_size: int
    ) -> Iterator[Vectors]:
        self.encoded.append(list(texts))
        if texts:
            yield embedder.encode(texts, batch_size=batch_size)


def test_local_blocks_come_in_order_and_match_one_call() -> None:
    embedder = HashingEmbedder(32)
    texts = [f"migration report number {i}" for i in range(70)]
    blocks = list(LOCAL.encode(texts, embedder, batch_size=4))
    assert [len(b) for b in blocks] == [16, 16, 16, 16, 6]
    assert np.array_equal(np.concatenate(blocks), embedder.encode(texts))


def test_only_cache_misses_reach_the_executor_each_once(tmp_path: Path) -> None:
    embedder, spy = HashingEmbedder(32), Spy()
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    cache.encode(["a", "b"], embedder, 8)
    texts = ["b", "c", "a", "d", "c"]
    vectors, computed = cache.encode(texts, embedder, 8, executor=spy)
    assert spy.encoded == [["c", "d"]]
    assert computed.tolist() == [False, True, False, True, True]
    assert np.allclose(vectors, embedder.encode(texts))
    cache.encode(texts, embedder, 8, executor=spy)
    assert spy.encoded[-1] == []
    cache.close()


def test_short_answers_from_an_executor_fail_the_build(tmp_path: Path) -> None:
    class Short(Spy):
        def encode(
            self, texts: Sequence[str], embedder: Embedder, batch_size: int
        ) -> Iterator[Vectors]:
            yield embedder.encode(texts[:1])

    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    with pytest.raises(RuntimeError, match="1 vectors came back for 2 texts"):
        cache.encode(["x", "y"], HashingEmbedder(32), 8, executor=Short())
    cache.close()


def test_a_build_through_another_executor_is_the_same_build(tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    (corpus / "empty.md").write_text("", encoding="utf-8")
    embedder, spy = HashingEmbedder(64), Spy()
    build_index(BuildConfig(corpus_dir=corpus, index_dir=tmp_path / "local"), embedder)
    config = BuildConfig(corpus_dir=corpus, index_dir=tmp_path / "other")
    report = build_index(config, embedder, executor=spy)
    assert spy.parsed == [["alpha.md", "beta.txt", "empty.md"]]
    assert [d.status for d in report.documents] == ["ok", "ok", "no_text"]
    assert_same_generation(tmp_path / "other", tmp_path / "local")

    (corpus / "gamma.md").write_text("# Gamma\n\nRemittances rose in 2021.\n", encoding="utf-8")
    report = build_index(config, embedder, executor=spy)
    # Unchanged files are reused, the kept failure is not retried: one file to parse.
    assert spy.parsed[-1] == ["gamma.md"] and report.added == ["gamma.md"]
    assert report.embedded == sum(d.passages for d in report.documents if d.source == "gamma.md")


def test_a_parse_failure_is_a_value_that_survives_pickling() -> None:
    import pickle

    failure = ParseFailure("encrypted", "the PDF needs a password")
    assert pickle.loads(pickle.dumps(failure)) == failure


@pytest.mark.parametrize(
    ("address", "endpoint"),
    [
        ("127.0.0.2:6379", ("127.0.0.2", 6379)),
        (" head.example:10001 ", ("head.example", 10001)),
        ("[::1]:6379", ("::1", 6379)),
    ],
)
def test_an_address_is_host_and_port(address: str, endpoint: tuple[str, int]) -> None:
    assert gcs_endpoint(address) == endpoint


@pytest.mark.parametrize("address", ["127.0.0.2", "127.0.0.2:", "127.0.0.2:http", ":6379", "h:0"])
def test_a_malformed_address_is_refused(address: str) -> None:
    with pytest.raises(ClusterError, match="expected HOST:PORT"):
        gcs_endpoint(address)


def test_a_loopback_head_pins_the_driver_to_loopback() -> None:
    assert driver_ip("127.0.0.2") == "127.0.0.2"
    assert driver_ip("::1") == "::1"
    assert driver_ip("10.0.0.5") is None
    assert driver_ip("head.example") is None
    assert driver_ip("localhost") == "127.0.0.1"  # a name is resolved first


def test_an_unreachable_head_fails_fast() -> None:
    port = free_port("127.0.0.2")
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"127.0.0.2:{port} is unreachable"):
        check_reachable("127.0.0.2", port, timeout_s=1.0)
    assert time.monotonic() - started < 2


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ClusterError, match=r"pip install -e '\.\[ray\]'"):
        import_ray()
    with (
        pytest.raises(ClusterError, match="not installed"),
        ray_executor("127.0.0.2:6379", "hashing-64", ModelSource()),
    ):
        pass


def test_model_paths_are_resolved_for_the_workers() -> None:
    source = absolute(ModelSource(Path("models/minilm"), Path("var/models")))
    assert source.path == Path.cwd() / "models/minilm"
    assert source.cache_dir == Path.cwd() / "var/models"


def test_blocks_share_the_characters_not_the_counts() -> None:
    # Five long passages, then twenty short sentences, for four blocks.
    bounds = block_bounds([10] * 5 + [1] * 20, max_texts=1024, blocks=4)
    assert bounds == [(0, 2), (2, 4), (4, 13), (13, 25)]


def test_blocks_cover_every_row_once_and_hold_at_most_max_texts() -> None:
    assert block_bounds([1] * 10, max_texts=3, blocks=1) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert block_bounds([], max_texts=3, blocks=4) == []
    assert block_bounds([0, 0], max_texts=5, blocks=2) == [(0, 2)]
