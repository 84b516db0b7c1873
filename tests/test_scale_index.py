"""Approximate dense indexes, streamed vectors and the streaming BM25 builder."""

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from core.errors import IndexCorrupt
from core.records import Filters
from core.settings import Settings
from index import dense, keyword
from index.build import BuildConfig, build_index
from index.embedcache import EmbeddingCache
from index.generations import GENERATIONS, current_version
from index.keyword import KeywordIndex
from index.manifest import MANIFEST_NAME
from index.searcher import Searcher
from index.vectorfile import VectorFile
from ingest.embed import HashingEmbedder
from tests.conftest import CORPUS


def clustered(n: int, d: int = 32, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d))
    x = centres[rng.integers(0, 20, n)] + 0.4 * rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def test_plan_is_exact_below_the_threshold_and_ivf_above() -> None:
    assert dense.plan(1_000_000, approximate=False) == dense.DenseSpec()
    big = dense.plan(1_000_000, approximate=True)
    assert (big.kind, big.nlist, big.codes) == ("ivf", 2000, "SQ8")
    assert dense.plan(100, approximate=True).nlist == 2  # enough training points per list


def test_filtered_nprobe_grows_with_selectivity_up_to_all_lists() -> None:
    assert dense.filtered_nprobe(8, 100, 10_000, 10_000) == 8
    assert dense.filtered_nprobe(8, 100, 10_000, 5_000) == 16
    assert dense.filtered_nprobe(8, 100, 10_000, 10) == 100


def test_tuned_ivf_index_finds_the_exact_neighbours(tmp_path: Path) -> None:
    vectors = clustered(4000)
    spec = dense.plan(len(vectors), approximate=True)
    index = dense.build(vectors, spec)
    tuned = dense.tune(index, vectors, spec, target=0.95)
    assert tuned.recall_at_10 is not None and tuned.recall_at_10 >= 0.95
    queries = clustered(50, seed=1)
    truth, _ = dense.exact_top(vectors, queries, 10)
    found = np.array([[r for r, _ in dense.search(index, q, 10)] for q in queries])
    assert dense.recall_at(found, truth) >= 0.9
    dense.save(index, tmp_path / "i.faiss")
    assert dense.describe(dense.load(tmp_path / "i.faiss", tuned)) == dense.DenseSpec(
        "ivf", tuned.nlist, 0, "SQ8"
    )
    with pytest.raises(IndexCorrupt):
        dense.load(tmp_path / "i.faiss", dense.DenseSpec())


@pytest.mark.parametrize("exact_below", [0, 20_000])
def test_ivf_search_keeps_to_the_allowed_rows(
    exact_below: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dense, "EXACT_FILTER_ROWS", exact_below)
    vectors = clustered(4000)
    index = dense.build(vectors, dense.plan(len(vectors), approximate=True))
    allowed = np.arange(0, 4000, 7, dtype=np.int64)
    for q in clustered(10, seed=2):
        hits = dense.search(index, q, 10, allowed)
        assert len(hits) == 10 and {r for r, _ in hits} <= set(allowed.tolist())
        best = int(allowed[np.argmax(vectors[allowed] @ q)])
        assert hits[0][0] == best


def build_with_threshold(corpus: Path, index_dir: Path, threshold: int) -> Path:
    config = BuildConfig(corpus_dir=corpus, index_dir=index_dir, ann_min_passages=threshold)
    assert build_index(config, HashingEmbedder(64)).published
    return index_dir / GENERATIONS / str(current_version(index_dir))


def test_build_above_the_threshold_serves_ivf_indexes_with_filters(
    small_corpus: Path, settings: Settings
) -> None:
    generation = build_with_threshold(small_corpus, settings.index_dir, threshold=1)
    searcher = Searcher.open_current(settings.index_dir)
    assert {s["kind"] for s in searcher.manifest.dense.values()} == {"ivf"}
    hits = searcher.search("remittances bonus on transfers", 3).hits
    assert "2% bonus" in hits[0].passage.text and hits[0].highlights
    only_beta = searcher.search("migrants", 10, Filters(doc_ids=frozenset({"beta"})))
    assert only_beta.hits and {h.passage.doc_id for h in only_beta.hits} == {"beta"}
    searcher.close()

    manifest = json.loads((generation / MANIFEST_NAME).read_text())
    manifest["dense"]["sentences"]["nlist"] += 1
    (generation / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match=r"sentences\.faiss"):
        Searcher.open_current(settings.index_dir)


def test_corpus_below_the_threshold_stays_exact(small_corpus: Path, settings: Settings) -> None:
    build_with_threshold(small_corpus, settings.index_dir, threshold=10_000)
    searcher = Searcher.open_current(settings.index_dir)
    assert {s["kind"] for s in searcher.manifest.dense.values()} == {"flat"}
    searcher.close()


def test_streaming_bm25_gives_the_scores_of_bm25s() -> None:
    lines = [
        line
        for path in sorted(CORPUS.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [*lines[:3000], "", "..."]
    reference = KeywordIndex.build(texts)
    streamed = KeywordIndex.build_streaming(iter(texts))
    assert streamed.size == reference.size == len(texts)
    for question in ["remittances during the pandemic", "Mayors Mechanism", "SDG 10.7 targets"]:
        rows_a, scores_a = reference.search(question, 20)
        rows_b, scores_b = streamed.search(question, 20)
        np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5)
        assert set(rows_a.tolist()) == set(rows_b.tolist())
    mask = np.zeros(len(texts), dtype=bool)
    mask[::2] = True
    rows, _ = streamed.search("migration", 50, mask)
    assert len(rows) and all(r % 2 == 0 for r in rows.tolist())


def test_embedding_cache_streams_vectors_into_a_file(tmp_path: Path) -> None:
    embedder = HashingEmbedder(16)
    texts = ["alpha", "beta", "alpha", "gamma"]
    expected = embedder.encode(texts)
    out = VectorFile.create(tmp_path / "v.f32", len(texts), 16)
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    computed = cache.encode_into(texts, out, embedder, batch_size=2)
    assert computed.tolist() == [True, True, True, True]
    np.testing.assert_allclose(out.read(0, 4), expected, rtol=1e-6)
    again = VectorFile.create(tmp_path / "w.f32", len(texts), 16)
    assert not cache.encode_into(texts, again, embedder, batch_size=2).any()
    np.testing.assert_allclose(again.window(1, 4).read(0, 3), expected[1:], rtol=1e-6)
    np.testing.assert_allclose(again.take(np.array([3, 0])), expected[[3, 0]], rtol=1e-6)
    cache.close()


def test_large_corpus_scoring_agrees_with_bm25s(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        line
        for path in sorted(CORPUS.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    index = KeywordIndex.build(lines)
    mask = np.zeros(index.size, dtype=bool)
    mask[1::2] = True
    for allowed in (None, mask):
        for question in ["remittances during the pandemic", "Mayors Mechanism", "health"]:
            expected_rows, expected = index.search(question, 30, allowed)
            monkeypatch.setattr(keyword, "LARGE_CORPUS", 0)
            rows, scores = index.search(question, 30, allowed)
            monkeypatch.setattr(keyword, "LARGE_CORPUS", 10**9)
            np.testing.assert_allclose(scores, expected, rtol=1e-5)
            above_cut = expected > expected[-1] + 1e-5  # rows tied at the cut may differ
            assert set(expected_rows[above_cut].tolist()) <= set(rows.tolist())
            if allowed is not None:
                assert allowed[rows].all()


def test_generation_written_before_the_dense_entry_loads_as_exact(
    small_corpus: Path, settings: Settings
) -> None:
    generation = build_with_threshold(small_corpus, settings.index_dir, threshold=10_000)
    manifest = json.loads((generation / MANIFEST_NAME).read_text())
    del manifest["dense"]
    (generation / MANIFEST_NAME).write_text(json.dumps(manifest))
    searcher = Searcher.open_current(settings.index_dir)
    assert searcher.manifest.dense == {}
    assert searcher.search("remittances bonus on transfers", 3).hits
    searcher.close()
