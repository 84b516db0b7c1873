"""What two index builds must agree on, read back from their published generations."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index import dense, store
from index.embedcache import CACHE_NAME
from index.generations import current_generation
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.manifest import read_manifest

# Where and when a generation was built; everything else must match.
WHEN_AND_WHERE = {"index_version", "created_at", "files"}
VECTOR_FILES = {dense.DENSE_NAME, dense.UNITS_NAME}


def iomqa(
    *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "iomqa", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manifest_fields(index_dir: Path) -> dict[str, Any]:
    manifest = asdict(read_manifest(current_generation(index_dir)))
    files = manifest["files"]
    kept = {k: v for k, v in manifest.items() if k not in WHEN_AND_WHERE}
    # Vectors may differ in the last bits, and BM25's term numbering follows the build
    # process's string hashing: these files' checksums may differ, their contents are
    # compared in assert_same_generation.
    kept["files"] = {
        name: digest if name not in VECTOR_FILES and not name.startswith(KEYWORD_DIR) else ""
        for name, digest in files.items()
    }
    return kept


def store_dump(index_dir: Path) -> list[str]:
    """Documents, passages (ids, texts, offsets) and sentence units, as SQL."""
    with sqlite3.connect(current_generation(index_dir) / store.STORE_NAME) as conn:
        return list(conn.iterdump())


def passages(index_dir: Path) -> list[tuple[str, str, int, int]]:
    opened = store.Store(current_generation(index_dir) / store.STORE_NAME)
    try:
        rows = opened.passages_by_rows(range(opened.count_passages()))
    finally:
        opened.close()
    return [(p.passage_id, p.text, p.char_start, p.char_end) for _, p in sorted(rows.items())]


def vectors(index_dir: Path, name: str = dense.DENSE_NAME) -> npt.NDArray[np.float32]:
    index = dense.load(current_generation(index_dir) / name)
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def keyword_scores(index_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Every term's BM25 score in every passage."""
    keyword = KeywordIndex.load(current_generation(index_dir) / KEYWORD_DIR)
    retriever = keyword._retriever
    return {
        term: np.asarray(retriever.get_scores_from_ids([i]), dtype=np.float32)
        for term, i in retriever.vocab_dict.items()
        if term  # bm25s's placeholder for the empty token has no scores
    }


def cached_vectors(index_dir: Path) -> int:
    with sqlite3.connect(index_dir / CACHE_NAME) as conn:
        count: int = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    return count


def assert_same_generation(built: Path, reference: Path) -> None:
    """Same manifest apart from when and where, same store, vectors within 1e-5."""
    ours, theirs = manifest_fields(built), manifest_fields(reference)
    assert ours == theirs, {k: (v, theirs.get(k)) for k, v in ours.items() if v != theirs.get(k)}
    assert passages(built) == passages(reference)
    assert store_dump(built) == store_dump(reference)
    ours_bm25, theirs_bm25 = keyword_scores(built), keyword_scores(reference)
    assert ours_bm25.keys() == theirs_bm25.keys()
    assert all(np.array_equal(v, theirs_bm25[k]) for k, v in ours_bm25.items())
    for name in VECTOR_FILES:
        mine, other = vectors(built, name), vectors(reference, name)
        assert mine.shape == other.shape
        assert float(np.abs(mine - other).max()) <= 1e-5
