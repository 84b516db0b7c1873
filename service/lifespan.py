"""What the service holds while it runs: the served searcher and what works beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core.records import SearchResult
from core.settings import Settings
from service.cache import LruCache
from service.jobs import JobManager
from service.mcp.http import mcp_sessions
from service.reload import watched_holder

SEARCH_THREADS = 4  # searches at once; more wait their turn (within the request deadline)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Loads the index and starts watching for new generations; `app.state.settings` is
    set by `create_app`, the rest here, for `service.deps` to hand to the routes."""
    settings: Settings = app.state.settings
    holder, watcher = watched_holder(settings, pinned=app.state.pinned)
    jobs = JobManager(settings, holder)
    search_pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
    app.state.holder = holder
    app.state.jobs = jobs
    app.state.search_pool = search_pool
    app.state.answers = LruCache[SearchResult](settings.answer_cache)
    async with mcp_sessions(app):
        yield
    watcher.stop()
    jobs.shutdown()
    # An abandoned (timed-out) search is left to finish on its own.
    search_pool.shutdown(wait=False, cancel_futures=True)
