"""Vectors and the one interface every embedder satisfies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def query_prefix(self) -> str:
        """Put before a question, never before a passage ("" for symmetric models)."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        """Rows are L2-normalised, so inner product is cosine similarity."""
        ...


def normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
