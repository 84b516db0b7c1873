"""The MCP server: tools, resources and a prompt over the served searcher.

Built on the SDK's `MCPServer`; the answers are the HTTP API's own (`views.ask_response`,
`citations.cite` through `views`, `export.export`), reshaped for a model to read. Each
transport hands in where the searcher comes from and the base of the permalinks.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import mcp_types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import Field, ValidationError
from starlette.requests import Request

from core.errors import IomqaError, NotFound
from core.records import DocumentInfo, Filters, Mode, Passage
from index.searcher import Searcher
from service.deps import find_document, find_passage
from service.errors import validation_message
from service.export import Format, Locator, export
from service.mcp.schemas import (
    ALLOWED_CONTEXT,
    DEFAULT_CONTEXT,
    MAX_CONTEXT,
    Citation,
    FoundPassage,
    PassageInContext,
    QuotablePassage,
    SearchAnswer,
)
from service.reload import SearcherHolder
from service.schemas import (
    ALLOWED,
    DEFAULT_TOP_K,
    MAX_TOP_K,
    AskFilters,
    AskRequest,
    DocumentList,
    PassageOut,
)
from service.views import ask_response, citation_out, document_out, search_filters

SearcherSource = Callable[[], Searcher]  # the searcher now; raises when none is served

TEXT_URI = "iomqa://documents/{doc_id}/text"
METADATA_URI = "iomqa://documents/{doc_id}"

INSTRUCTIONS = (
    "Ranked, cited passages from IOM's International Dialogue on Migration reports. "
    "Answer from the passages search_passages returns, quote them verbatim, and cite each "
    "claim with its citation.formatted and permalink. When `answerable` is false, say that "
    "the reports do not answer the question."
)
ANSWERABLE_NOTE = (
    "Confident evidence found (confidence {confidence:.2f}). Quote the passages verbatim "
    "and cite each claim with its citation.formatted and permalink."
)
UNANSWERABLE_NOTE = (
    "The reports do not answer this question with confidence (confidence {confidence:.2f}). "
    "Say that the reports don't say; the passages below are only the nearest text, not an "
    "answer. Do not answer from memory."
)
NOT_FOUND_HINT = "use a passage_id returned by search_passages or get_passage"


def served(holder: SearcherHolder) -> Searcher:
    """The holder's searcher now, or why there is none (what /ask answers 503 with)."""
    searcher = holder.current
    if searcher is None:
        raise holder.unavailable()
    return searcher


@contextmanager
def tool_errors() -> Iterator[None]:
    """Bad arguments and domain errors become tool errors the model reads and can correct;
    the session goes on."""
    try:
        yield
    except ValidationError as exc:
        raise ToolError(validation_message(list(exc.errors()))) from None
    except IomqaError as exc:
        raise ToolError(str(exc)) from None


def permalink(base_url: str, passage_id: str) -> str:
    return f"{base_url}/p/{quote(passage_id, safe='')}"


def base_url(ctx: Context[Any, Any], public_url: str) -> str:
    """The request's own base over HTTP (the link works where the assistant connected);
    the configured IOMQA_PUBLIC_URL over stdio, where there is no request."""
    request = ctx.request_context.request
    if isinstance(request, Request):
        return str(request.base_url).rstrip("/")
    return public_url


def found_passage(p: PassageOut, base: str) -> FoundPassage:
    return FoundPassage(
        passage_id=p.passage_id,
        text=p.text,
        citation=p.citation,
        permalink=permalink(base, p.passage_id),
        highlights=p.highlights,
    )


def quotable(document: DocumentInfo, passage: Passage, base: str) -> QuotablePassage:
    return QuotablePassage(
        passage_id=passage.passage_id,
        text=passage.text,
        citation=citation_out(document, passage),
        permalink=permalink(base, passage.passage_id),
    )


def check_doc_ids(searcher: Searcher, filters: Filters | None) -> None:
    if filters is None or not filters.doc_ids:
        return
    unknown = sorted(d for d in filters.doc_ids if searcher.document(d) is None)
    if unknown:
        known = ", ".join(d.doc_id for d in searcher.documents())
        raise ToolError(f"filters.doc_ids: unknown {unknown} (allowed: {known})")


def around(searcher: Searcher, passage: Passage, n: int) -> tuple[list[Passage], list[Passage]]:
    """Up to `n` passages on each side of `passage`, in document order."""
    before: list[Passage] = []
    after: list[Passage] = []
    first = last = passage
    for _ in range(n):
        previous, _next = searcher.neighbours(first)
        _previous, following = searcher.neighbours(last)
        if previous is not None:
            before.insert(0, first := previous)
        if following is not None:
            after.append(last := following)
    return before, after


def lookup_passage(searcher: Searcher, passage_id: str) -> tuple[Passage, DocumentInfo]:
    try:
        return find_passage(searcher, passage_id)
    except NotFound as exc:
        raise ToolError(f"{exc}: {NOT_FOUND_HINT}") from None


QuestionArg = Annotated[
    str,
    Field(
        description=f"The question in plain language: {ALLOWED['question']}",
        examples=["How many Member States did the IOM Council have in 2018?"],
    ),
]
# Bounds are checked by AskRequest, as for /ask, so the error names what is allowed.
TopKArg = Annotated[
    int,
    Field(
        description=f"How many passages: {ALLOWED['top_k']}",
        json_schema_extra={"minimum": 1, "maximum": MAX_TOP_K},
    ),
]
ModeArg = Annotated[Mode, Field(description=ALLOWED["mode"])]
FiltersArg = Annotated[
    AskFilters | None,
    Field(description="Restrict to documents: doc_ids (see list_documents), years, types"),
]
ContextArg = Annotated[
    int,
    Field(
        description=f"Passages on each side: {ALLOWED_CONTEXT}",
        json_schema_extra={"minimum": 0, "maximum": MAX_CONTEXT},
    ),
]
StyleArg = Annotated[Format, Field(description="apa, chicago, bibtex, ris or csl-json")]


class Tools:
    """The tools, bound to where the searcher comes from and the permalinks' base."""

    def __init__(self, searcher: SearcherSource, public_url: str) -> None:
        self._searcher = searcher
        self._public_url = public_url

    def search_passages(
        self,
        question: QuestionArg,
        ctx: Context[Any, Any],
        top_k: TopKArg = DEFAULT_TOP_K,
        mode: ModeArg = Mode.PRECISE,
        filters: FiltersArg = None,
    ) -> SearchAnswer:
        """Search IOM's International Dialogue on Migration reports for passages answering
        a question. Returns the best passages verbatim, each with an exact citation
        (`citation.formatted`) and a permalink, and `answerable`: when it is false the
        reports hold no confident answer, and you should say the reports don't say rather
        than answer from memory. Quote only `text`, never paraphrase it as the reports' words."""
        with tool_errors():
            body = AskRequest(question=question, top_k=top_k, mode=mode, filters=filters)
            searcher = self._searcher()
            wanted = search_filters(body.filters)
            check_doc_ids(searcher, wanted)
            started = time.perf_counter()
            result = searcher.search(body.question, body.top_k, wanted, body.mode)
            took_ms = (time.perf_counter() - started) * 1000
        answer = ask_response(body.question, searcher.version, took_ms, result, {})
        note = ANSWERABLE_NOTE if answer.answerable else UNANSWERABLE_NOTE
        base = base_url(ctx, self._public_url)
        return SearchAnswer(
            note=note.format(confidence=answer.confidence),
            answerable=answer.answerable,
            confidence=answer.confidence,
            index_version=answer.index_version,
            passages=[found_passage(p, base) for p in answer.passages],
        )

    def get_passage(
        self, passage_id: str, ctx: Context[Any, Any], context: ContextArg = DEFAULT_CONTEXT
    ) -> PassageInContext:
        """A passage with its neighbours in the document, to read around a quote before
        citing it. Each passage comes with its own citation and permalink."""
        if not 0 <= context <= MAX_CONTEXT:
            raise ToolError(f"context: {context} is out of range (allowed: {ALLOWED_CONTEXT})")
        with tool_errors():
            searcher = self._searcher()
            passage, document = lookup_passage(searcher, passage_id)
        before, after = around(searcher, passage, context)
        base = base_url(ctx, self._public_url)
        return PassageInContext(
            index_version=searcher.version,
            passage=quotable(document, passage, base),
            before=[quotable(document, p, base) for p in before],
            after=[quotable(document, p, base) for p in after],
        )

    def cite(
        self, passage_id: str | None = None, doc_id: str | None = None, style: StyleArg = "apa"
    ) -> Citation:
        """The citation of a passage (with its page or section) or of a whole document, in
        apa, chicago, bibtex, ris or csl-json. Give exactly one of passage_id or doc_id."""
        if (passage_id is None) == (doc_id is None):
            raise ToolError("give exactly one of passage_id (a passage) or doc_id (a document)")
        with tool_errors():
            searcher = self._searcher()
            if passage_id is not None:
                passage, document = lookup_passage(searcher, passage_id)
                where = Locator(passage.page, passage.page_label, passage.section)
            else:
                document, where = find_document(searcher, doc_id or ""), None
        text = export(style, document.doc_id, document.metadata, where)
        return Citation(style=style, doc_id=document.doc_id, passage_id=passage_id, text=text)

    def list_documents(self, filters: FiltersArg = None) -> DocumentList:
        """The reports and submissions searched: each document's doc_id, title, year,
        series, type, publisher and passage count. Use doc_ids in search filters."""
        with tool_errors():
            searcher = self._searcher()
            wanted = search_filters(filters) or Filters()
            check_doc_ids(searcher, wanted)
        return DocumentList(
            index_version=searcher.version,
            documents=[document_out(d) for d in searcher.documents() if wanted.admits(d)],
        )

    def document_text(self, doc_id: str) -> str:
        """The canonical text every citation's char_start/char_end point into."""
        document = self._document(doc_id)
        return self._searcher().document_text(document.doc_id) or ""

    def document_metadata(self, doc_id: str) -> str:
        """The document's metadata and passage count, as JSON (the shape list_documents uses)."""
        return document_out(self._document(doc_id)).model_dump_json(indent=2)

    def _document(self, doc_id: str) -> DocumentInfo:
        try:
            return find_document(self._searcher(), doc_id)
        except NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None


def answer_with_citations(question: str) -> str:
    """Answer a question from the IDM reports only, citing every claim."""
    return (
        f"Question: {question}\n\n"
        "Answer only from passages returned by the iomqa tool search_passages (use "
        "get_passage to read around a passage). Do not answer from memory. Quote the "
        "passages' text verbatim, and after each claim give its citation's `formatted` "
        "citation and its `permalink`. If `answerable` is false, or no passage supports a "
        "claim, say that the reports don't say."
    )


class IomqaMCP(MCPServer[Any]):
    """Lists each served document's two resources beside the templates: a host shows
    them without the assistant having to guess an id."""

    def __init__(self, searcher: SearcherSource) -> None:
        super().__init__("iomqa", instructions=INSTRUCTIONS, version="0.1.0")
        self._source = searcher

    async def list_resources(self) -> list[mcp_types.Resource]:
        try:
            documents = self._source().documents()
        except IomqaError:
            documents = []
        return [
            resource
            for d in documents
            for resource in (
                mcp_types.Resource(
                    uri=TEXT_URI.format(doc_id=d.doc_id),
                    name=f"{d.doc_id} text",
                    title=f"{d.metadata.title}: canonical text",
                    mime_type="text/plain",
                ),
                mcp_types.Resource(
                    uri=METADATA_URI.format(doc_id=d.doc_id),
                    name=d.doc_id,
                    title=d.metadata.title,
                    mime_type="application/json",
                ),
            )
        ]


def create_server(searcher: SearcherSource, public_url: str) -> MCPServer[Any]:
    """The MCP server over `searcher`; `public_url` bases permalinks when no request does."""
    tools = Tools(searcher, public_url)
    server = IomqaMCP(searcher)
    read_only = mcp_types.ToolAnnotations(read_only_hint=True, open_world_hint=False)
    for tool in (tools.search_passages, tools.get_passage, tools.cite, tools.list_documents):
        # Cleaned of the source's indentation: the model reads the description as text.
        server.add_tool(tool, description=inspect.getdoc(tool), annotations=read_only)
    server.resource(TEXT_URI, mime_type="text/plain", name="document_text")(tools.document_text)
    server.resource(METADATA_URI, mime_type="application/json", name="document")(
        tools.document_metadata
    )
    server.prompt(name="answer_with_citations", title="Answer with citations")(
        answer_with_citations
    )
    return server
