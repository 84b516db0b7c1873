"""The FastAPI application: routes over the searcher kept on app.state."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.records import DocumentInfo, Filters, Hit, Passage, SearchResult
from core.settings import Settings, get_settings
from index.searcher import Searcher
from service.admin import router as admin_router
from service.cache import LruCache
from service.citations import cite
from service.export import EXTENSIONS, MEDIA_TYPES, Format, Locator, export
from service.jobs import JobManager
from service.metrics import CONTENT_TYPE, Metrics
from service.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from service.reload import SearcherHolder, Watcher
from service.schemas import (
    ALLOWED,
    DEFAULT_TOP_K,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    NOT_BLANK,
    AskRequest,
    AskResponse,
    CitationOut,
    DocumentList,
    DocumentOut,
    ErrorOut,
    FacetOut,
    Health,
    HighlightOut,
    LocationOut,
    PassageDetail,
    PassageOut,
    ValidationErrorOut,
    WhyOut,
)
from service.web import router as web_router
from service.web import static_files

log = logging.getLogger(__name__)

NO_INDEX = "no index is loaded: build one with `iomqa ingest` (or start with `make serve`)"
SEARCH_THREADS = 4  # searches at once; more wait their turn (within the request deadline)
UPLOAD_PREFIX = "/admin/documents"
UPLOAD_OVERHEAD = 1 << 16  # multipart framing and form fields around an upload


def _json_ascii(status: int, content: Any) -> Response:
    """JSON escaped to ASCII: safe for echoed input holding lone surrogates."""
    body = json.dumps(jsonable_encoder(content), ensure_ascii=True, default=str)
    return Response(body, status_code=status, media_type="application/json")


def _validation_message(errors: list[Any]) -> str:
    parts = []
    for error in errors:
        loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path")]
        name = loc[-1] if loc else "request"
        allowed = ALLOWED.get(name)
        message = f"{name}: {error.get('msg', 'invalid')}"
        parts.append(f"{message} (allowed: {allowed})" if allowed else message)
    return "; ".join(parts) or "invalid request"


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _citation(hit_document: DocumentInfo, passage: Passage) -> CitationOut:
    c = cite(hit_document, passage)
    return CitationOut(**c.__dict__)


def _passage_out(hit: Hit) -> PassageOut:
    p = hit.passage
    w = hit.why
    return PassageOut(
        rank=hit.rank,
        score=round(hit.score, 4),
        passage_id=p.passage_id,
        text=p.text,
        citation=_citation(hit.document, p),
        highlights=[
            HighlightOut(
                start=h.start,
                end=h.end,
                doc_start=p.char_start + h.start,
                doc_end=p.char_start + h.end,
                text=p.text[h.start : h.end],
            )
            for h in hit.highlights
        ],
        matched_terms=list(hit.matched_terms),
        why=WhyOut(
            bm25_rank=w.bm25_rank,
            bm25_score=None if w.bm25_score is None else round(w.bm25_score, 4),
            dense_rank=w.dense_rank,
            dense_score=None if w.dense_score is None else round(w.dense_score, 4),
            fused=round(w.fused, 4),
            bonus=round(w.bonus, 4),
            hints=list(w.hints),
        ),
        also_in=[
            LocationOut(passage_id=a.passage.passage_id, citation=_citation(a.document, a.passage))
            for a in hit.also_in
        ],
    )


def _filters(body: AskRequest) -> Filters | None:
    f = body.filters
    if f is None:
        return None
    return Filters(
        doc_ids=frozenset(f.doc_ids) if f.doc_ids is not None else None,
        year_from=f.year_from,
        year_to=f.year_to,
        types=frozenset(f.type) if f.type is not None else None,
    )


def _document_out(d: DocumentInfo) -> DocumentOut:
    m = d.metadata
    return DocumentOut(
        doc_id=d.doc_id,
        source=d.source,
        kind=d.kind,
        title=m.title,
        year=m.year,
        series=m.series,
        number=m.number,
        publisher=m.publisher,
        type=m.type,
        isbn=m.isbn,
        event=m.event,
        author=m.author,
        pages=d.pages,
        passages=d.passages,
        content_hash=d.content_hash,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder = SearcherHolder(settings.index_dir, settings.model_source)
        holder.reload()
        watcher = Watcher(holder, settings.reload_interval)
        watcher.start()
        app.state.settings = settings
        app.state.holder = holder
        app.state.jobs = JobManager(settings, holder)
        app.state.search_pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
        app.state.answers = LruCache[SearchResult](settings.answer_cache)
        yield
        watcher.stop()
        app.state.jobs.shutdown()
        # An abandoned (timed-out) search is left to finish on its own.
        app.state.search_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="iomqa",
        summary="Ranked, cited passages from IOM's International Dialogue on Migration reports.",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ValidationErrorOut, "description": "Invalid request"}},
    )
    metrics = Metrics(lambda: getattr(app.state, "holder", None))
    app.state.metrics = metrics
    # Added innermost first: request ids and metrics see every answer, 413s included.
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Index-Version"],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=int(settings.max_upload_mb * (1 << 20)) + UPLOAD_OVERHEAD,
        upload_prefix=UPLOAD_PREFIX,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # A body FastAPI could not even decode (not UTF-8, broken multipart): the same
            # 422 as any other body that does not fit.
            return _json_ascii(
                422,
                {
                    "detail": f"body: could not be parsed ({type(exc.__cause__).__name__}) "
                    "(allowed: a UTF-8 JSON object such as "
                    '{"question": "...", "top_k": 5})',
                },
            )
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; /ask has two.
            allowed = _allowed_methods(request)
            return JSONResponse(
                status_code=405,
                content={
                    "detail": f"method {request.method} not allowed here "
                    f"(allowed: {', '.join(allowed)})"
                },
                headers={"Allow": ", ".join(allowed)},
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        return _json_ascii(422, {"detail": _validation_message(errors), "errors": errors})

    def searcher(request: Request) -> Searcher:
        """The searcher this request uses throughout, even if a reload happens meanwhile."""
        holder: SearcherHolder = request.app.state.holder
        loaded: Searcher | None = holder.current
        if loaded is None:
            raise HTTPException(503, detail=holder.error or NO_INDEX)
        return loaded

    async def ask(request: Request, body: AskRequest) -> Response:
        s = searcher(request)
        filters = _filters(body)
        if filters and filters.doc_ids:
            unknown = sorted(d for d in filters.doc_ids if s.document(d) is None)
            if unknown:
                known = ", ".join(d.doc_id for d in s.documents())
                raise HTTPException(
                    422, detail=f"filters.doc_ids: unknown {unknown} (allowed: {known})"
                )
        started = time.perf_counter()
        answers: LruCache[SearchResult] = request.app.state.answers
        key = (s.version, body.question, body.top_k, filters)
        result = answers.get(key)
        cache = "hit" if result is not None else "miss"
        if result is None:
            result = await _search(request, s, body, filters)
            answers.put(key, result)
        took = (time.perf_counter() - started) * 1000
        titles = {d.doc_id: d.metadata.title for d in s.documents()}
        answer = AskResponse(
            question=body.question,
            index_version=s.version,
            took_ms=round(took, 2),
            answerable=result.answerable,
            confidence=round(result.confidence, 4),
            passages=[_passage_out(h) for h in result.hits],
            facets=[
                FacetOut(doc_id=d, title=titles.get(d, d), hits=n) for d, n in result.facets.items()
            ],
        )
        # Serialised here: the model was just built and validated, so FastAPI's second
        # validation pass through response_model would only cost time.
        return Response(
            answer.model_dump_json(),
            media_type="application/json",
            headers={"X-Answer-Cache": cache},
        )

    async def _search(
        request: Request, s: Searcher, body: AskRequest, filters: Filters | None
    ) -> SearchResult:
        pool: ThreadPoolExecutor = request.app.state.search_pool
        timeout = settings.request_timeout_s
        # The search runs in the pool with this request's context (its request id for logs);
        # the event loop awaits it, so the request costs one thread hand-off, not two.
        future = pool.submit(
            contextvars.copy_context().run, s.search, body.question, body.top_k, filters
        )
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()
            log.warning("search abandoned after %g s", timeout, extra={"timeout_s": timeout})
            raise HTTPException(
                503,
                detail=f"the search did not finish within {timeout:g} s "
                "(IOMQA_REQUEST_TIMEOUT_S); the service is busy: retry later or ask for "
                "fewer results",
                headers={"Retry-After": "1"},
            ) from None

    errors_503: dict[int | str, dict[str, Any]] = {
        503: {"model": ErrorOut, "description": "No index loaded, or the search overran"}
    }
    errors_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, **errors_503}
    errors_413: dict[int | str, dict[str, Any]] = {
        413: {"model": ErrorOut, "description": "Body over IOMQA_MAX_BODY_BYTES"},
        **errors_503,
    }

    @app.post("/ask", response_model=AskResponse, responses=errors_413, tags=["search"])
    async def ask_post(request: Request, body: AskRequest) -> Response:
        """Ranked passages answering a question, each with an exact citation."""
        return await ask(request, body)

    @app.get("/ask", response_model=AskResponse, responses=errors_503, tags=["search"])
    async def ask_get(
        request: Request,
        q: str = Query(
            ...,
            description=ALLOWED["q"],
            min_length=1,
            max_length=MAX_QUESTION_CHARS,
            json_schema_extra={"pattern": NOT_BLANK},
            examples=["How many Member States did the IOM Council have in 2018?"],
        ),
        k: int = Query(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=ALLOWED["k"]),
    ) -> Response:
        """The same as POST /ask, for links and quick checks."""
        try:
            body = AskRequest(question=q, top_k=k)
        except ValidationError as exc:
            errors = [
                {**e, "loc": ("query", {"question": "q", "top_k": "k"}.get(str(e["loc"][0]), "q"))}
                for e in exc.errors()
            ]
            raise RequestValidationError(errors) from None
        return await ask(request, body)

    @app.get(
        "/passages/{passage_id}",
        response_model=PassageDetail,
        responses=errors_404,
        tags=["passages"],
    )
    def get_passage(request: Request, passage_id: str) -> PassageDetail:
        """One passage with its citation and its neighbours in the document."""
        s, passage, document = _passage(request, passage_id)
        before, after = s.neighbours(passage)
        return PassageDetail(
            passage_id=passage.passage_id,
            index_version=s.version,
            text=passage.text,
            citation=_citation(document, passage),
            previous_passage_id=before.passage_id if before else None,
            next_passage_id=after.passage_id if after else None,
        )

    @app.get("/documents", response_model=DocumentList, responses=errors_503, tags=["documents"])
    def list_documents(request: Request) -> DocumentList:
        """Every indexed document with its metadata and passage count."""
        s = searcher(request)
        return DocumentList(
            index_version=s.version, documents=[_document_out(d) for d in s.documents()]
        )

    def _passage(request: Request, passage_id: str) -> tuple[Searcher, Passage, DocumentInfo]:
        s = searcher(request)
        passage = s.passage(passage_id)
        document = s.document(passage.doc_id) if passage else None
        if passage is None or document is None:
            raise HTTPException(404, detail=f"no passage {passage_id!r} in index {s.version}")
        return s, passage, document

    def _document(request: Request, doc_id: str) -> tuple[Searcher, DocumentInfo]:
        s = searcher(request)
        document = s.document(doc_id)
        if document is None:
            known = ", ".join(d.doc_id for d in s.documents())
            raise HTTPException(404, detail=f"no document {doc_id!r}; known: {known}")
        return s, document

    @app.get(
        "/documents/{doc_id}", response_model=DocumentOut, responses=errors_404, tags=["documents"]
    )
    def get_document(request: Request, doc_id: str) -> DocumentOut:
        return _document_out(_document(request, doc_id)[1])

    @app.get(
        "/documents/{doc_id}/text",
        response_class=PlainTextResponse,
        responses=errors_404,
        tags=["documents"],
    )
    def get_document_text(request: Request, doc_id: str) -> PlainTextResponse:
        """The canonical text that every citation's char_start/char_end point into."""
        s, document = _document(request, doc_id)
        text = s.document_text(document.doc_id) or ""
        return PlainTextResponse(text, headers={"X-Index-Version": s.version})

    def _cite_response(fmt: str, name: str, text: str, version: str) -> Response:
        return Response(
            text,
            media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8",
            headers={
                "Content-Disposition": f'inline; filename="{name}.{EXTENSIONS[fmt]}"',
                "X-Index-Version": version,
            },
        )

    format_query = Query("bibtex", description=ALLOWED["format"])
    cite_responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {MEDIA_TYPES[f]: {} for f in MEDIA_TYPES}},
        **errors_404,
    }

    @app.get(
        "/documents/{doc_id}/cite",
        response_class=Response,
        responses=cite_responses,
        tags=["documents"],
    )
    def cite_document(request: Request, doc_id: str, format: Format = format_query) -> Response:
        """The document's citation as BibTeX, RIS, CSL-JSON, APA or Chicago."""
        s, document = _document(request, doc_id)
        text = export(format, document.doc_id, document.metadata)
        return _cite_response(format, document.doc_id, text, s.version)

    @app.get(
        "/passages/{passage_id}/cite",
        response_class=Response,
        responses=cite_responses,
        tags=["passages"],
    )
    def cite_passage(request: Request, passage_id: str, format: Format = format_query) -> Response:
        """The passage's citation, with its page (PDF sources) or section as locator."""
        s, passage, document = _passage(request, passage_id)
        where = Locator(passage.page, passage.page_label, passage.section)
        text = export(format, document.doc_id, document.metadata, where)
        return _cite_response(format, passage_id, text, s.version)

    @app.get("/health", response_model=Health, responses=errors_503, tags=["service"])
    def health(request: Request) -> Any:
        holder: SearcherHolder = request.app.state.holder
        s = holder.current
        if s is None:
            return JSONResponse(
                status_code=503,
                content={
                    "detail": holder.error or NO_INDEX,
                    "status": "unavailable",
                    "index_version": None,
                },
            )
        return Health(
            status="ok",
            index_version=s.version,
            documents=s.manifest.documents,
            passages=s.manifest.passages,
        )

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        tags=["service"],
    )
    def get_metrics() -> Response:
        """Request counts and latencies by route and status, and the served index."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(admin_router)
    app.include_router(web_router)
    app.mount("/static", static_files, name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _errors_as_json(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _errors_as_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error answers are JSON even where the success is plain text (FastAPI files them
    under the route's media type)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in "45" and "text/plain" in content:
                    content["application/json"] = content.pop("text/plain")
    return schema
