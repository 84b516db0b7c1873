"""POST and GET /ask: ranked, cited passages answering a question."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from core.records import Filters, Mode, SearchResult
from index.searcher import Searcher
from service.deps import AnswersDep, SearcherDep, SearchPoolDep, SettingsDep
from service.errors import TOO_LARGE, UNAVAILABLE
from service.schemas import (
    ALLOWED,
    DEFAULT_TOP_K,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    NOT_BLANK,
    AskRequest,
    AskResponse,
)
from service.views import ask_response, search_filters

log = logging.getLogger(__name__)

router = APIRouter(tags=["search"])

# GET /ask names its parameters for links; errors speak of the names the client sent.
_QUERY_NAMES = {"question": "q", "top_k": "k", "mode": "mode"}


@router.post("/ask", response_model=AskResponse, responses=TOO_LARGE)
async def ask_post(
    body: AskRequest,
    searcher: SearcherDep,
    answers: AnswersDep,
    pool: SearchPoolDep,
    settings: SettingsDep,
) -> Response:
    """Ranked passages answering a question, each with an exact citation."""
    return await answer(body, searcher, answers, pool, settings.request_timeout_s)


@router.get("/ask", response_model=AskResponse, responses=UNAVAILABLE)
async def ask_get(
    searcher: SearcherDep,
    answers: AnswersDep,
    pool: SearchPoolDep,
    settings: SettingsDep,
    q: str = Query(
        ...,
        description=ALLOWED["q"],
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        json_schema_extra={"pattern": NOT_BLANK},
        examples=["How many Member States did the IOM Council have in 2018?"],
    ),
    k: int = Query(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=ALLOWED["k"]),
    mode: Annotated[Mode, Query(description=ALLOWED["mode"])] = Mode.PRECISE,
) -> Response:
    """The same as POST /ask, for links and quick checks."""
    try:
        body = AskRequest(question=q, top_k=k, mode=mode)
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("query", _QUERY_NAMES.get(str(e["loc"][0]), "q"))} for e in exc.errors()
        ]
        raise RequestValidationError(errors) from None
    return await answer(body, searcher, answers, pool, settings.request_timeout_s)


async def answer(
    body: AskRequest,
    searcher: Searcher,
    answers: AnswersDep,
    pool: ThreadPoolExecutor,
    timeout: float,
) -> Response:
    """The answer from the cache, else from a search; `X-Answer-Cache` says which."""
    filters = search_filters(body.filters)
    _check_doc_ids(searcher, filters)
    started = time.perf_counter()
    # Each mode ranks differently, so each has its own answer.
    key = (searcher.version, body.question, body.top_k, filters, body.mode)
    result = answers.get(key)
    cached = result is not None
    if result is None:
        result = await _search(pool, timeout, searcher, body, filters)
        answers.put(key, result)
    took_ms = (time.perf_counter() - started) * 1000
    titles = {d.doc_id: d.metadata.title for d in searcher.documents()}
    answer = ask_response(body.question, searcher.version, took_ms, result, titles, cached=cached)
    # Serialised here: the model was just built and validated, so FastAPI's second
    # validation pass through response_model would only cost time.
    return Response(
        answer.model_dump_json(),
        media_type="application/json",
        headers={"X-Answer-Cache": "hit" if cached else "miss"},
    )


def _check_doc_ids(searcher: Searcher, filters: Filters | None) -> None:
    if not filters or not filters.doc_ids:
        return
    unknown = sorted(d for d in filters.doc_ids if searcher.document(d) is None)
    if unknown:
        known = ", ".join(d.doc_id for d in searcher.documents())
        # A field of the request that does not fit: 422 like any other, not a 404.
        raise HTTPException(422, detail=f"filters.doc_ids: unknown {unknown} (allowed: {known})")


async def _search(
    pool: ThreadPoolExecutor,
    timeout: float,
    searcher: Searcher,
    body: AskRequest,
    filters: Filters | None,
) -> SearchResult:
    # The search runs in the pool with this request's context (its request id for logs);
    # the event loop awaits it, so the request costs one thread hand-off, not two.
    future = pool.submit(
        contextvars.copy_context().run,
        searcher.search,
        body.question,
        body.top_k,
        filters,
        body.mode,
    )
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        future.cancel()
        log.warning("search abandoned after %g s", timeout, extra={"timeout_s": timeout})
        raise HTTPException(
            503,
            detail=f"the search did not finish within {timeout:g} s "
            "(IOMQA_REQUEST_TIMEOUT_S); the service is busy: retry later, or ask for "
            "fewer results or with mode fast",
            headers={"Retry-After": "1"},
        ) from None
