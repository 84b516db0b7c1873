"""Dense vectors -> FAISS index over unit vectors (inner product = cosine).

Small corpora get exact search. Above a configurable size both indexes become inverted
files (IVF) whose vectors are stored as 8-bit scalar codes: at a million passages the
five million sentence vectors take 1.9 GB instead of 7.7 GB, and recall@10 against exact
search stays near 0.98 where product quantisation lost a third (docs/benchmarks.md). The
layout and its tuned nprobe are recorded in the manifest and checked on load.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from core.errors import IndexCorrupt
from index.vectorfile import Rows, read_rows, take_rows
from ingest.vectors import Vectors

DENSE_NAME = "dense.faiss"
UNITS_NAME = "sentences.faiss"

FLAT = "flat"
IVF = "ivf"
KINDS = (FLAT, IVF)
# FAISS names of the vector codes an IVF index may keep.
CODES = {"Flat": None, "SQ8": faiss.ScalarQuantizer.QT_8bit, "SQ6": faiss.ScalarQuantizer.QT_6bit}
DEFAULT_CODES = "SQ8"

# Vectors handed to FAISS at once: bounds the copies read from a vector file.
CHUNK = 50_000
# k-means training points per list (FAISS warns below 39), capped: the coarse
# quantiser's training and the assignment of every vector dominate the build.
POINTS_PER_LIST = 40
MAX_TRAINING = 100_000
KMEANS_ITERATIONS = 10
QUERY_NOISE = 3.0  # see tune()
# nprobe candidates tried at build time, smallest first.
NPROBES = (4, 8, 16, 32, 64, 128, 256)
# A filter admitting this few rows is searched exactly over reconstructed vectors;
# decoding is about 0.7 µs a vector, so beyond this the IVF scan with a selector wins.
EXACT_FILTER_ROWS = 1_000


@dataclass(frozen=True)
class DenseSpec:
    """How one vector index is laid out; what the manifest records for it."""

    kind: str = FLAT
    nlist: int = 0
    nprobe: int = 0
    codes: str = ""  # for IVF: a key of CODES
    recall_at_10: float | None = None  # measured against exact at build time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DenseSpec:
        """Generations written before the approximate index have no entry: flat."""
        if not data:
            return cls()
        try:
            spec = cls(**data)
        except TypeError as exc:
            raise IndexCorrupt(f"dense index entry is not valid: {exc}") from exc
        if spec.kind not in KINDS or (spec.kind == IVF and spec.codes not in CODES):
            raise IndexCorrupt(f"unknown dense index {spec.kind!r} {spec.codes!r}")
        return spec


def plan(n: int, *, approximate: bool, codes: str = DEFAULT_CODES) -> DenseSpec:
    """The layout for n vectors. Pure.

    nlist = 2·√n: half the usual FAISS guideline, because assigning every vector to its
    list costs n·nlist dot products and dominated the build at five million sentences;
    capped so that every list gets enough training points.
    """
    if not approximate or n == 0:
        return DenseSpec()
    nlist = max(1, min(int(2 * math.sqrt(n)), n // POINTS_PER_LIST))
    return DenseSpec(IVF, nlist=nlist, nprobe=min(nlist, 32), codes=codes)


def _chunks(vectors: Rows) -> Iterator[npt.NDArray[np.float32]]:
    for start in range(0, len(vectors), CHUNK):
        yield read_rows(vectors, start, start + CHUNK)


def _empty(spec: DenseSpec, dimension: int) -> faiss.Index:
    if spec.kind == FLAT:
        return faiss.IndexFlatIP(dimension)
    # The factory gives an index that owns its coarse quantiser.
    index = faiss.index_factory(
        dimension, f"IVF{spec.nlist},{spec.codes}", faiss.METRIC_INNER_PRODUCT
    )
    faiss.extract_index_ivf(index).cp.niter = KMEANS_ITERATIONS
    return index


def _sample(n: int, size: int, seed: int = 1) -> npt.NDArray[np.int64]:
    rows = np.random.default_rng(seed).choice(n, min(n, size), replace=False)
    return np.sort(rows)  # in file order: one forward pass over a vector file


def build(vectors: Rows, spec: DenseSpec | None = None) -> faiss.Index:
    """An index over `vectors` (an array or a file, read in chunks)."""
    spec = spec or DenseSpec()
    dimension = vectors.shape[1]
    index = _empty(spec, dimension)
    if spec.kind != FLAT and len(vectors):
        need = spec.nlist * POINTS_PER_LIST
        index.train(take_rows(vectors, _sample(len(vectors), min(MAX_TRAINING, need))))
        ivf = faiss.extract_index_ivf(index)
        # Highlights and filtered searches reconstruct vectors by row.
        ivf.make_direct_map()
        ivf.nprobe = spec.nprobe
    for chunk in _chunks(vectors):
        index.add(chunk)
    return index


def exact_top(
    vectors: Rows, queries: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Row ids and scores of the k best vectors for each query, best first, by brute
    force over chunks."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start, chunk in zip(range(0, len(vectors), CHUNK), _chunks(vectors), strict=True):
        scores = np.concatenate([best_scores, queries @ chunk.T], axis=1)
        here = np.broadcast_to(np.arange(start, start + len(chunk)), (len(queries), len(chunk)))
        rows = np.concatenate([best_rows, here], axis=1)
        keep = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_rows, order, 1), np.take_along_axis(best_scores, order, 1)


def recall_at(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Mean share of each exact top list that the approximate list also holds. Pure."""
    if len(truth) == 0:
        return 1.0
    return float(
        np.mean(
            [
                len(set(f[f >= 0].tolist()) & set(t.tolist())) / max(1, len(t))
                for f, t in zip(found, truth, strict=True)
            ]
        )
    )


def tune(
    index: faiss.Index, vectors: Rows, spec: DenseSpec, target: float, samples: int = 100
) -> DenseSpec:
    """The smallest nprobe reaching recall@10 `target` against exact search.

    Queries are stored vectors with noise three times their length added: questions sit
    that far from the passages that answer them (cosine about 0.6 to the best one), and
    on the synthetic benchmark corpus the recall these queries give tracks the recall
    of the development questions from below; with less noise tuning chose an nprobe
    whose recall on real questions was 0.89. A quantised index that never reaches the
    target gets the nprobe past which recall stops improving.
    """
    if spec.kind == FLAT or len(vectors) == 0:
        return spec
    rng = np.random.default_rng(3)
    rows = _sample(len(vectors), samples, seed=2)
    queries = take_rows(vectors, rows)
    noise = rng.standard_normal(queries.shape).astype(np.float32)
    queries = queries + noise * (QUERY_NOISE / np.sqrt(queries.shape[1]))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(10, len(vectors))
    truth, _ = exact_top(vectors, queries, k)
    ivf = faiss.extract_index_ivf(index)
    chosen, best = spec.nlist, -1.0
    for nprobe in [p for p in NPROBES if p < spec.nlist]:
        ivf.nprobe = nprobe
        _, found = index.search(queries, k)
        recall = recall_at(found, truth)
        if recall >= target:
            chosen, best = nprobe, recall
            break
        if recall <= best + 0.002:  # converged below target: more probes buy nothing
            break
        chosen, best = nprobe, recall
    else:
        ivf.nprobe = spec.nlist
        _, found = index.search(queries, k)
        chosen, best = spec.nlist, recall_at(found, truth)
    ivf.nprobe = chosen
    return DenseSpec(**{**spec.to_dict(), "nprobe": chosen, "recall_at_10": round(best, 4)})


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def vectors(index: faiss.Index) -> npt.NDArray[np.float32]:
    """Every stored vector, one row each in row order (quantised layouts give them back
    approximately)."""
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()  # inverted lists are not kept in row order
    stored: npt.NDArray[np.float32] = index.reconstruct_n(0, index.ntotal)
    return stored


def describe(index: faiss.Index) -> DenseSpec:
    """The layout of a loaded index, to compare with what the manifest says."""
    if isinstance(index, faiss.IndexFlat):
        return DenseSpec()
    if isinstance(index, faiss.IndexIVFFlat):
        return DenseSpec(IVF, nlist=index.nlist, codes="Flat")
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        names = {qtype: name for name, qtype in CODES.items() if qtype is not None}
        return DenseSpec(IVF, nlist=index.nlist, codes=names.get(index.sq.qtype, "?"))
    return DenseSpec(kind=type(index).__name__)


def load(path: Path, spec: DenseSpec | None = None) -> faiss.Index:
    """Read an index, refusing one whose layout is not what the manifest recorded."""
    spec = spec or DenseSpec()
    # Memory-mapped and read-only: processes serving the same generation (uvicorn
    # workers, replicas on one node) share its vectors in the page cache.
    mapped = faiss.IO_FLAG_MMAP_IFC if spec.kind == FLAT else faiss.IO_FLAG_MMAP
    index = faiss.read_index(str(path), mapped | faiss.IO_FLAG_READ_ONLY)  # concrete class
    found = describe(index)
    expected = DenseSpec(spec.kind, spec.nlist, 0, spec.codes)
    if found != expected:
        raise IndexCorrupt(f"{path.name}: index is {found}, the manifest says {expected}")
    if spec.kind != FLAT:
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    return index


def filtered_nprobe(nprobe: int, nlist: int, total: int, admitted: int) -> int:
    """Probes needed to visit as many admitted vectors as an unfiltered search would. Pure."""
    if admitted >= total or admitted == 0:
        return nprobe
    return min(nlist, math.ceil(nprobe * total / admitted))


def _exact_among(
    index: faiss.Index, query: Vectors, k: int, allowed: npt.NDArray[np.int64]
) -> list[tuple[int, float]]:
    vectors = index.reconstruct_batch(allowed)
    scores = vectors @ query.reshape(-1)
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(allowed[i]), float(scores[i])) for i in top]


def search(
    index: faiss.Index,
    query: Vectors,
    k: int,
    allowed: npt.NDArray[np.int64] | None = None,
) -> list[tuple[int, float]]:
    """(row, cosine) pairs for one query vector, best first.

    `allowed` restricts the search to those row ids.
    """
    if index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
        return []
    k = max(1, min(k, index.ntotal if allowed is None else len(allowed)))
    params: faiss.SearchParameters | None = None
    if isinstance(index, faiss.IndexIVF):
        if allowed is not None and len(allowed) <= EXACT_FILTER_ROWS:
            return _exact_among(index, query, k, allowed)
        params = faiss.SearchParametersIVF()
        admitted = index.ntotal if allowed is None else len(allowed)
        params.nprobe = filtered_nprobe(index.nprobe, index.nlist, index.ntotal, admitted)
    # A local name keeps the selector alive through the search: SWIG does not.
    selector = None if allowed is None else faiss.IDSelectorBatch(allowed)
    if selector is not None:
        params = params or faiss.SearchParameters()
        params.sel = selector
    scores, ids = index.search(
        np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params
    )
    return [(r, s) for r, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True) if r >= 0]
