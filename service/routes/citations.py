"""A document's or a passage's citation in the reference formats (BibTeX, RIS, ...)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from service.deps import SearcherDep, find_document, find_passage
from service.errors import NOT_FOUND, Responses
from service.export import EXTENSIONS, MEDIA_TYPES, Format, Locator, export
from service.schemas import ALLOWED

router = APIRouter()

CITE_RESPONSES: Responses = {
    200: {"content": {MEDIA_TYPES[f]: {} for f in MEDIA_TYPES}},
    **NOT_FOUND,
}
# One Query object for both routes: the parameter is documented identically.
_FORMAT: Any = Query("bibtex", description=ALLOWED["format"])


def cite_response(fmt: str, name: str, text: str, index_version: str) -> Response:
    return Response(
        text,
        media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{name}.{EXTENSIONS[fmt]}"',
            "X-Index-Version": index_version,
        },
    )


@router.get(
    "/documents/{doc_id}/cite",
    response_class=Response,
    responses=CITE_RESPONSES,
    tags=["documents"],
)
def cite_document(searcher: SearcherDep, doc_id: str, format: Format = _FORMAT) -> Response:
    """The document's citation as BibTeX, RIS, CSL-JSON, APA or Chicago."""
    document = find_document(searcher, doc_id)
    text = export(format, document.doc_id, document.metadata)
    return cite_response(format, document.doc_id, text, searcher.version)


@router.get(
    "/passages/{passage_id}/cite",
    response_class=Response,
    responses=CITE_RESPONSES,
    tags=["passages"],
)
def cite_passage(searcher: SearcherDep, passage_id: str, format: Format = _FORMAT) -> Response:
    """The passage's citation, with its page (PDF sources) or section as locator."""
    passage, document = find_passage(searcher, passage_id)
    where = Locator(passage.page, passage.page_label, passage.section)
    text = export(format, document.doc_id, document.metadata, where)
    return cite_response(format, passage.passage_id, text, searcher.version)
