"""The searcher the service answers from, swapped for a newer generation while serving.

A request takes `holder.current` once and uses that searcher to the end, so requests in
flight finish on the generation they started on while new ones see the new one.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from core.errors import IndexCorrupt, IndexNotFound, IomqaError
from core.models import ModelSource
from core.settings import Settings
from index.generations import GENERATIONS, current_version
from index.manifest import read_manifest
from index.rerank import Reranker, load_reranker
from index.searcher import Searcher
from ingest.embed import BatchingEmbedder, make_embedder
from ingest.vectors import Embedder

log = logging.getLogger(__name__)

NO_INDEX = "no index is loaded: build one with `iomqa ingest` (or start with `make serve`)"


class SearcherHolder:
    def __init__(
        self,
        index_dir: Path,
        source: ModelSource,
        reranker: Reranker | None = None,
        *,
        model: str | None = None,
        pinned: bool = False,
        adapt: bool = True,
    ) -> None:
        self._index_dir = index_dir
        # Pinned: the generation is chosen from outside (`load`), never by reading CURRENT,
        # so replicas behind one router serve what their deployment names, not what each
        # happened to see last.
        self.pinned = pinned
        self._source = source
        # The configured model (IOMQA_MODEL): a generation built with another is refused,
        # naming both, rather than served with a model the operator did not choose.
        # None: each generation is served with the model its manifest names.
        self._model = model
        self._reranker = reranker  # query-time only: every generation is served with it
        self._adapt = adapt  # so is the query adapter
        self._lock = threading.Lock()  # one load at a time; readers never wait for it
        self.current: Searcher | None = None
        self.error: str | None = None
        self.refused: str | None = None  # a version that failed its checks
        self.loaded_at: float | None = None

    def _embedder_for(self, model: str) -> Embedder:
        # Reuse the loaded model: loading it again would cost seconds and memory.
        if self.current is not None and self.current.embedder.name == model:
            return self.current.embedder
        return BatchingEmbedder(make_embedder(model, self._source))

    def unavailable(self) -> IndexNotFound | IndexCorrupt:
        """Why nothing is served, as the error a request for the index answers with."""
        message = self.error or NO_INDEX
        # With nothing served, a refused version is the reason: it failed its checks.
        return IndexCorrupt(message) if self.refused is not None else IndexNotFound(message)

    def reload(self, *, force: bool = False) -> bool:
        """Load the generation CURRENT names if it is not the one served. True if swapped.
        A pinned holder ignores CURRENT: whoever pinned it calls `load`."""
        if self.pinned:
            return False
        with self._lock:
            version = current_version(self._index_dir)
            if version is None:
                if self.current is None:
                    self.error = (
                        f"no index in {self._index_dir}: build one with `iomqa ingest` "
                        "(or start with `make serve`)"
                    )
                return False
            return self._swap_to(version, force=force)

    def load(self, version: str) -> bool:
        """Serve exactly `version` (a pinned holder's only way to change). True if swapped;
        a generation that fails its checks is refused and the served one stays."""
        with self._lock:
            return self._swap_to(version, force=True)

    def _swap_to(self, version: str, *, force: bool) -> bool:
        if self.current is not None and self.current.version == version:
            return False
        if version == self.refused and not force:
            return False
        searcher = self._open(version)
        if searcher is None:
            return False
        previous = self.current.version if self.current else None
        self.current = searcher  # the swap: one reference assignment
        self.error = None
        self.refused = None
        self.loaded_at = time.time()
        log.warning("serving index %s (was %s)", version, previous)
        return True

    def _open(self, version: str) -> Searcher | None:
        """The generation opened and checked, or None (refused, the reason recorded)."""
        generation = self._index_dir / GENERATIONS / version
        try:
            manifest = read_manifest(generation)
            model = self._model or manifest.model
            return Searcher.open(
                generation, self._embedder_for(model), reranker=self._reranker, adapt=self._adapt
            )
        except IomqaError as exc:
            message = f"index {version} refused: {exc}"
            log.error("%s", message)
        except Exception as exc:  # a generation that cannot even load is refused, never served
            message = f"index {version} refused: {exc}"
            log.exception("index %s could not be loaded", version)
        self.refused = version
        if self.current is None:
            self.error = message
        return None


class Watcher:
    """Checks for a new generation every `interval` seconds in a daemon thread."""

    def __init__(self, holder: SearcherHolder, interval: float) -> None:
        self._holder = holder
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._holder.reload()
            except Exception:  # the watcher must outlive any one bad check
                log.exception("index check failed")


def watched_holder(settings: Settings, *, pinned: bool = False) -> tuple[SearcherHolder, Watcher]:
    """The configured searcher, loaded now, and the watcher (started) that swaps in each
    new generation; the HTTP service and the MCP stdio server both serve from these.
    Pinned (a Ray Serve replica): nothing loads and nothing watches until `load`."""
    holder = SearcherHolder(
        settings.index_dir,
        settings.model_source,
        load_reranker(settings.reranker, settings.model_cache_dir),
        model=settings.model,
        pinned=pinned,
        adapt=settings.query_adapter,
    )
    holder.reload()
    watcher = Watcher(holder, 0 if pinned else settings.reload_interval)
    watcher.start()
    return holder, watcher
