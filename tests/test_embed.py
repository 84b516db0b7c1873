"""Embedders: the deterministic hashing one, lazy loading, and question batching."""

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from ingest.embed import BatchingEmbedder, HashingEmbedder, LazyEmbedder
from ingest.vectors import Vectors


class Slow:
    """A model that takes a while per call and records its batches."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(32)
        self.batches: list[int] = []
        self.name, self.dimension = self.inner.name, self.inner.dimension

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        self.batches.append(len(texts))
        time.sleep(0.05)
        if "boom" in texts:
            raise ValueError("model failure")
        return self.inner.encode(texts)


def test_hashing_embedder_is_deterministic_and_unit_length() -> None:
    e = HashingEmbedder(64)
    a, b = e.encode(["migration data"]), e.encode(["migration data"])
    assert np.array_equal(a, b) and np.isclose(np.linalg.norm(a), 1.0)
    assert float(e.encode(["migration data systems"])[0] @ a[0]) > float(
        e.encode(["football results"])[0] @ a[0]
    )


def test_concurrent_questions_share_one_forward_pass_and_get_their_own_vectors() -> None:
    slow = Slow()
    batching = BatchingEmbedder(slow)
    questions = [f"question number {i}" for i in range(8)]
    results: dict[str, Vectors] = {}

    def ask(q: str) -> None:
        results[q] = batching.encode([q])

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(slow.batches) < len(questions)  # batched
    assert sum(slow.batches) == len(questions)
    for q in questions:
        assert results[q].shape == (1, 32)
        assert np.allclose(results[q], slow.inner.encode([q]))


def test_bulk_calls_bypass_the_queue_and_errors_reach_the_caller() -> None:
    slow = Slow()
    batching = BatchingEmbedder(slow)
    assert batching.encode(["a", "b", "c"]).shape == (3, 32) and slow.batches == [3]
    with pytest.raises(ValueError, match="model failure"):
        batching.encode(["boom"])
    assert batching.encode(["after the failure"]).shape == (1, 32)


def test_lazy_embedder_loads_only_when_needed() -> None:
    loads: list[int] = []

    def factory() -> HashingEmbedder:
        loads.append(1)
        return HashingEmbedder(16)

    lazy = LazyEmbedder("hashing-16", factory)
    lazy.assume_dimension(16)
    assert (lazy.name, lazy.dimension, loads) == ("hashing-16", 16, [])
    assert lazy.encode(["x"]).shape == (1, 16) and loads == [1]
