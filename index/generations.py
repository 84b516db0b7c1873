"""Index generations on disk: build in staging, verify, publish with one atomic rename.

Layout of the index folder:
    CURRENT                 name of the served generation (replaced atomically)
    generations/<version>/  manifest.json, passages.sqlite3, dense.faiss
    staging/<tmp>/          a generation being built; never read by the service
    ingest.lock             held by the one ingest allowed at a time
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import IndexNotFound, IngestLocked

CURRENT = "CURRENT"
GENERATIONS = "generations"
STAGING = "staging"
LOCK = "ingest.lock"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for child in path.iterdir():
        if child.is_dir():
            _fsync_tree(child)
        elif child.is_file():
            with child.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(path)


def new_staging(index_dir: Path) -> Path:
    staging = index_dir / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="build-", dir=staging))


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def current_version(index_dir: Path) -> str | None:
    try:
        version = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def current_generation(index_dir: Path) -> Path:
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFound(
            f"no index in {index_dir}: build one with `iomqa ingest` (or `make serve`)"
        )
    return index_dir / GENERATIONS / version


def list_versions(index_dir: Path) -> list[str]:
    folder = index_dir / GENERATIONS
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def publish(index_dir: Path, staging: Path, version: str) -> Path:
    """Move a finished staging folder into place and point CURRENT at it.

    Each step is durable before the next: a crash leaves either the old CURRENT or the
    new one, both naming complete generations.
    """
    _fsync_tree(staging)
    generations = index_dir / GENERATIONS
    generations.mkdir(parents=True, exist_ok=True)
    target = generations / version
    os.rename(staging, target)
    _fsync_dir(generations)
    set_current(index_dir, version)
    return target


def prune(index_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` generations (never the current one)."""
    current = current_version(index_dir)
    versions = list_versions(index_dir)
    doomed = [v for v in versions[: max(0, len(versions) - keep)] if v != current]
    for version in doomed:
        shutil.rmtree(index_dir / GENERATIONS / version, ignore_errors=True)
    return doomed


def clean_staging(index_dir: Path) -> list[str]:
    """Remove what interrupted builds left behind (call with the ingest lock held)."""
    staging = index_dir / STAGING
    if not staging.is_dir():
        return []
    stale = [p.name for p in staging.iterdir()]
    for name in stale:
        discard(staging / name)
    (index_dir / f"{CURRENT}.tmp").unlink(missing_ok=True)
    return stale


def set_current(index_dir: Path, version: str) -> None:
    """Point CURRENT at an existing generation (used by rollback)."""
    pointer = index_dir / f"{CURRENT}.tmp"
    with pointer.open("w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)


@contextlib.contextmanager
def ingest_lock(index_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """One ingest at a time: a second one waits (`wait`) or fails at once, clearly.

    flock is released by the kernel when its holder dies, so a killed ingest never
    leaves a stale lock behind.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("a+") as handle:
        try:
            flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError as exc:
            raise IngestLocked(
                f"another ingest is running on {index_dir}; wait for it to finish (or pass --wait)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
