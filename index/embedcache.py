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

from ingest.embed import Embedder, Vectors

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
    ) -> tuple[Vectors, npt.NDArray[np.bool_]]:
        """Vectors for `texts` (in order), and which of them had to be computed."""
        keys = [cache_key(embedder.name, t) for t in texts]
        known = self._get(list(dict.fromkeys(keys)))
        missing = [i for i, k in enumerate(keys) if k not in known]
        unique_missing = list(dict.fromkeys(keys[i] for i in missing))
        first_text = {keys[i]: texts[i] for i in reversed(missing)}
        step = batch_size * 4
        for start in range(0, len(unique_missing), step):
            if progress:
                progress(start, len(unique_missing))
            part = unique_missing[start : start + step]
            fresh = embedder.encode([first_text[k] for k in part], batch_size=batch_size)
            rows = [(k, v.astype(np.float32).tobytes()) for k, v in zip(part, fresh, strict=True)]
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._conn.commit()
            known.update(rows)
        if progress:
            progress(len(unique_missing), len(unique_missing))
        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = np.frombuffer(known[key], dtype=np.float32)
        computed = np.zeros(len(texts), dtype=bool)
        computed[missing] = True
        return out, computed
