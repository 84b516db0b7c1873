"""Scale: full synthetic generations of n passages (store, BM25, dense ANN indexes,
sentence index) searched end to end by the real Searcher.

Each size is built in one fresh process and measured in another, so that peak memory
and the memory the loaded index takes are those of that size alone. Recall@10 compares
the approximate generation with exact search over the same vectors: per index, and end
to end, where the Searcher is given exact dense results computed by brute force.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
import numpy.typing as npt

from core.models import ModelSource
from index import dense
from index.build import write_generation
from index.manifest import read_manifest
from index.searcher import CANDIDATES, Searcher
from index.store import STORE_NAME, Store
from index.vectorfile import VectorFile
from ingest.embed import make_embedder
from ingest.vectors import Embedder
from iomqa.bench import synthetic
from iomqa.bench.stats import percentile

T = TypeVar("T")
K = 10
SENTENCE_DEPTH = 4 * CANDIDATES  # what Searcher asks of the sentence index


def _fresh(fn: Callable[..., T], *args: Any) -> T:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _build(
    source_generation: Path,
    n: int,
    folder: Path,
    queries: npt.NDArray[np.float32],
    ann_min_passages: int,
) -> dict[str, Any]:
    """Synthesise and write one generation; exact dense results for the queries."""

    faiss.omp_set_num_threads(2)
    manifest = read_manifest(source_generation)
    store = Store(source_generation / STORE_NAME)
    specs = {k: dense.DenseSpec.from_dict(v) for k, v in manifest.dense.items()}
    source = synthetic.Source.read(
        store,
        _all(dense.load(source_generation / dense.DENSE_NAME, specs.get("passages"))),
        _all(dense.load(source_generation / dense.UNITS_NAME, specs.get("sentences"))),
    )
    store.close()
    started = time.perf_counter()
    given = synthetic.make(source, n, folder, manifest.model)
    synth_s = time.perf_counter() - started
    generation = folder / "generation"
    generation.mkdir()
    started = time.perf_counter()
    write_generation(generation, given, ann_min_passages)
    build_s = time.perf_counter() - started
    passage_rows, passage_scores = dense.exact_top(given.vectors, queries, CANDIDATES)
    unit_rows, unit_scores = dense.exact_top(given.unit_vectors, queries, SENTENCE_DEPTH)
    np.savez(
        folder / "exact.npz",
        passage_rows=passage_rows,
        passage_scores=passage_scores,
        unit_rows=unit_rows,
        unit_scores=unit_scores,
    )
    for file in (given.vectors, given.unit_vectors):
        if isinstance(file, VectorFile):
            file.path.unlink()
    files = [p for p in generation.rglob("*") if p.is_file()]
    return {
        "passages": n,
        "sentences": len(given.unit_vectors),
        "synthesis_s": synth_s,
        "build_s": build_s,
        "build_peak_rss_mb": _peak_mb(),
        "disk_mb": sum(p.stat().st_size for p in files) / 2**20,
    }


def _all(index: faiss.Index) -> npt.NDArray[np.float32]:
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


class _Known:
    """An embedder that answers the benchmark questions from vectors computed before."""

    def __init__(self, inner: Embedder, questions: Sequence[str], vectors: npt.NDArray[Any]):
        self.name, self.dimension = inner.name, inner.dimension
        self.query_prefix = ""  # the vectors given are the final ones, looked up by question
        self._vectors = {q: v for q, v in zip(questions, vectors, strict=True)}

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


class _Exact:
    """Stands in for a FAISS index: exact results precomputed for the known queries."""

    def __init__(
        self,
        inner: faiss.Index,
        queries: npt.NDArray[np.float32],
        rows: npt.NDArray[np.int64],
        scores: npt.NDArray[np.float32],
    ) -> None:
        self._inner, self._queries, self._rows, self._scores = inner, queries, rows, scores
        self.ntotal, self.d = inner.ntotal, inner.d

    def search(self, q: npt.NDArray[np.float32], k: int, params: object = None) -> Any:
        which = int(np.argmax(self._queries @ q[0]))
        return self._scores[which : which + 1, :k], self._rows[which : which + 1, :k]

    def reconstruct(self, row: int) -> npt.NDArray[np.float32]:
        return np.asarray(self._inner.reconstruct(row), dtype=np.float32)


def _timed(searcher: Searcher, questions: Sequence[str]) -> tuple[list[float], list[list[int]]]:
    times, tops = [], []
    for q in questions:
        started = time.perf_counter()
        hits = searcher.search(q, K).hits
        times.append((time.perf_counter() - started) * 1000)
        tops.append([searcher._store.row_of(h.passage.passage_id) or -1 for h in hits])
    return times, tops


def _overlap(a: list[list[int]], b: list[list[int]]) -> float:
    return float(
        np.mean([len(set(x) & set(y)) / max(1, len(y)) for x, y in zip(a, b, strict=True)])
    )


def _measure(
    folder: Path,
    source: ModelSource,
    questions: list[str],
    queries: npt.NDArray[np.float32],
) -> dict[str, Any]:
    """Load the generation as the service would; latency and recall, with and without
    the question encoder."""

    generation = folder / "generation"
    embedder = make_embedder(read_manifest(generation).model, source)
    embedder.encode(["warm up"])
    before = _rss_mb()
    started = time.perf_counter()
    searcher = Searcher.open(generation, embedder)
    open_s = time.perf_counter() - started
    index_ram = _rss_mb() - before
    exact = np.load(folder / "exact.npz")
    known = _Known(embedder, questions, queries)

    def variant(e: Embedder, passages: Any, sentences: Any) -> Searcher:
        s = searcher
        return Searcher(
            s.generation,
            s.manifest,
            passages,
            sentences,
            s._owners,
            s._keyword,
            s._store,
            e,
            s._calibrations,
        )

    bare = variant(known, searcher._passages, searcher._sentences)
    oracle = variant(
        known,
        _Exact(searcher._passages, queries, exact["passage_rows"], exact["passage_scores"]),
        _Exact(searcher._sentences, queries, exact["unit_rows"], exact["unit_scores"]),
    )
    _timed(searcher, questions[:10])  # warm caches
    encode_ms = []
    for question in questions:
        started = time.perf_counter()
        embedder.encode([question])
        encode_ms.append((time.perf_counter() - started) * 1000)
    with_encode_ms, _ = _timed(searcher, questions)
    without_encode_ms, approximate = _timed(bare, questions)
    _, reference = _timed(oracle, questions)

    ann_ms, found_p, found_u, bm25_ms = [], [], [], []
    for question, q in zip(questions, queries, strict=True):
        started = time.perf_counter()
        found_p.append([r for r, _ in dense.search(searcher._passages, q, K)])
        ann_ms.append((time.perf_counter() - started) * 1000)
        found_u.append([r for r, _ in dense.search(searcher._sentences, q, K)])
        started = time.perf_counter()
        searcher._keyword.search(question, CANDIDATES)
        bm25_ms.append((time.perf_counter() - started) * 1000)
    result = {
        "open_s": open_s,
        "index_ram_mb": index_ram,
        "dense": searcher.manifest.dense,
        "passage_recall_at_10": _overlap(found_p, exact["passage_rows"][:, :K].tolist()),
        "sentence_recall_at_10": _overlap(found_u, exact["unit_rows"][:, :K].tolist()),
        "end_to_end_recall_at_10": _overlap(approximate, reference),
        "ann_p50_ms": percentile(ann_ms, 50),
        "ann_p95_ms": percentile(ann_ms, 95),
        "bm25_p50_ms": percentile(bm25_ms, 50),
        "bm25_p95_ms": percentile(bm25_ms, 95),
        "encode_p50_ms": percentile(encode_ms, 50),
        "p50_ms": percentile(with_encode_ms, 50),
        "p95_ms": percentile(with_encode_ms, 95),
        "no_encode_p50_ms": percentile(without_encode_ms, 50),
        "no_encode_p95_ms": percentile(without_encode_ms, 95),
        "measure_peak_rss_mb": _peak_mb(),
    }
    searcher.close()
    return result


def run(
    source_generation: Path,
    source: ModelSource,
    questions: list[str],
    queries: npt.NDArray[np.float32],
    sizes: Sequence[int],
    ann_min_passages: int,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="iomqa-scale-") as tmp:
            log(f"scale {n:,}: building…")
            built = _fresh(_build, source_generation, n, Path(tmp), queries, ann_min_passages)
            log(f"scale {n:,}: built in {built['build_s']:.0f} s; measuring…")
            measured = _fresh(_measure, Path(tmp), source, questions, queries)
            results.append(built | measured)
            log(f"scale {n:,}: {results[-1]}")
    return results
