"""Vectors already computed, keyed by model and text, so unchanged passages are never
embedded twice. A cache: losing it costs time, never correctness."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.vectorfile import Rows, put_rows, write_rows
from ingest.executor import LOCAL, Executor
from ingest.vectors import Embedder, Vectors

log = logging.getLogger(__name__)

CACHE_NAME = "embeddings.sqlite3"
_BATCH = 500


def cache_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("embedding cache %s unreadable (%s); starting a new one", path, exc)
            path.unlink(missing_ok=True)
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path)
        conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        conn.execute("SELECT count(*) FROM vectors").fetchone()
        return conn

    def close(self) -> None:
        self._conn.close()

    def _get(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _BATCH):
            part = keys[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part
            ).fetchall()
            found.update(rows)
        return found

    def encode(
        self,
        texts: Sequence[str],
        embedder: Embedder,
        batch_size: int,
        progress: Callable[[int, int], None] | None = None,
        executor: Executor = LOCAL,
    ) -> tuple[Vectors, npt.NDArray[np.bool_]]:
        """Vectors for `texts` (in order), and which of them had to be computed."""
        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        return out, self.encode_into(texts, out, embedder, batch_size, progress, executor)

    def encode_into(
        self,
        texts: Sequence[str],
        out: Rows,
        embedder: Embedder,
        batch_size: int,
        progress: Callable[[int, int], None] | None = None,
        executor: Executor = LOCAL,
    ) -> npt.NDArray[np.bool_]:
        """Write the vector of texts[i] to out[i] (an array or a file); return which of
        them had to be computed.

        Vectors go to `out` batch by batch, so nothing holds all of them as Python
        objects: at a million passages that would be gigabytes. Only the texts the cache
        lacks reach `executor`, each once.
        """
        computed = np.zeros(len(texts), dtype=bool)
        waiting = self._fill_cached(texts, out, embedder, computed)
        unique_missing = list(waiting)
        report = progress or (lambda done, total: None)
        report(0, len(unique_missing))
        missing_texts = [texts[rows[0]] for rows in waiting.values()]
        done = 0
        for block in executor.encode(missing_texts, embedder, batch_size):
            fresh = np.ascontiguousarray(block, dtype=np.float32)
            part = unique_missing[done : done + len(fresh)]
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(k, v.tobytes()) for k, v in zip(part, fresh, strict=True)],
            )
            self._conn.commit()
            for key, vector in zip(part, fresh, strict=True):
                put_rows(out, waiting[key], vector)
            done += len(fresh)
            report(done, len(unique_missing))
        if done != len(unique_missing):
            raise RuntimeError(f"{done} vectors came back for {len(unique_missing)} texts")
        return computed

    def _fill_cached(
        self, texts: Sequence[str], out: Rows, embedder: Embedder, computed: npt.NDArray[np.bool_]
    ) -> dict[str, list[int]]:
        """Write the cached vectors to `out` and mark the rest in `computed`; return each
        missing key with the rows waiting for it, in first-seen order."""
        keys = [cache_key(embedder.name, t) for t in texts]
        waiting: dict[str, list[int]] = {}
        for start in range(0, len(keys), _BATCH):
            part = keys[start : start + _BATCH]
            found = self._get(list(dict.fromkeys(part)))
            block = np.zeros((len(part), embedder.dimension), dtype=np.float32)
            for i, key in enumerate(part):
                blob = found.get(key)
                if blob is None:
                    waiting.setdefault(key, []).append(start + i)
                    computed[start + i] = True
                else:
                    block[i] = np.frombuffer(blob, dtype=np.float32)
            write_rows(out, start, block)  # rows still waiting are filled below
        return waiting
