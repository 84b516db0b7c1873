"""Dense vectors -> FAISS index (exact inner product over unit vectors = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from ingest.embed import Vectors

DENSE_NAME = "dense.faiss"
UNITS_NAME = "sentences.faiss"


def build(vectors: Vectors) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


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
    params = None
    if allowed is not None:
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(allowed)
    scores, ids = index.search(
        np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params
    )
    return [(r, s) for r, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True) if r >= 0]
