"""Dense vectors -> FAISS index (exact inner product over unit vectors = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from ingest.embed import Vectors

DENSE_NAME = "dense.faiss"


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
    index: faiss.Index, queries: Vectors, k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Scores and row ids, best first; rows of -1 pad when the index is smaller than k."""
    k = max(1, min(k, index.ntotal))
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, ids
