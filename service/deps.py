"""What routes receive through `Depends`: the app's shared objects and the looked-up ids.

Each has an `Annotated` alias (`SearcherDep`, ...) so a route names what it needs in its
signature, and a test swaps one with `app.dependency_overrides[get_searcher] = ...`.
The app-state readers are `async def`: they do no I/O, and a plain `def` would cost
every request a hop through the thread pool.
"""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from core.errors import NotFound
from core.records import DocumentInfo, Passage, SearchResult
from core.settings import Settings
from index.searcher import Searcher
from service.cache import LruCache
from service.jobs import JobManager
from service.metrics import Metrics
from service.reload import SearcherHolder


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_holder(request: Request) -> SearcherHolder:
    holder: SearcherHolder = request.app.state.holder
    return holder


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[SearcherHolder, Depends(get_holder)]


async def get_searcher(holder: HolderDep) -> Searcher:
    """The searcher this request uses throughout, even if a reload happens meanwhile:
    FastAPI resolves a dependency once per request."""
    served = holder.current
    if served is None:
        raise holder.unavailable()
    return served


async def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_answers(request: Request) -> LruCache[SearchResult]:
    answers: LruCache[SearchResult] = request.app.state.answers
    return answers


async def get_search_pool(request: Request) -> ThreadPoolExecutor:
    pool: ThreadPoolExecutor = request.app.state.search_pool
    return pool


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AnswersDep = Annotated[LruCache[SearchResult], Depends(get_answers)]
SearchPoolDep = Annotated[ThreadPoolExecutor, Depends(get_search_pool)]


async def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    token = settings.admin_token
    if token is None:
        raise HTTPException(404, detail="admin endpoints are disabled: set IOMQA_ADMIN_TOKEN")
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(
            401,
            detail="missing bearer token: send 'Authorization: Bearer <IOMQA_ADMIN_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = authorization.removeprefix("Bearer ").strip().encode()
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        raise HTTPException(403, detail="wrong admin token")


# Lookups by id run in the route's body, not as dependencies: FastAPI runs dependencies
# before it validates the query, and a malformed request is a 422 whether or not the id
# exists.
def find_passage(searcher: Searcher, passage_id: str) -> tuple[Passage, DocumentInfo]:
    passage = searcher.passage(passage_id)
    document = searcher.document(passage.doc_id) if passage else None
    if passage is None or document is None:
        raise NotFound(f"no passage {passage_id!r} in index {searcher.version}")
    return passage, document


def find_document(searcher: Searcher, doc_id: str) -> DocumentInfo:
    document = searcher.document(doc_id)
    if document is None:
        known = ", ".join(d.doc_id for d in searcher.documents())
        raise NotFound(f"no document {doc_id!r}; known: {known}")
    return document
