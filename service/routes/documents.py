"""The indexed documents, their canonical text, and passages by id."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from service.deps import SearcherDep, find_document, find_passage
from service.errors import NOT_FOUND, UNAVAILABLE
from service.schemas import DocumentList, DocumentOut, PassageDetail
from service.views import document_out, passage_detail

router = APIRouter()


@router.get(
    "/passages/{passage_id}",
    response_model=PassageDetail,
    responses=NOT_FOUND,
    tags=["passages"],
)
def get_passage(searcher: SearcherDep, passage_id: str) -> PassageDetail:
    """One passage with its citation and its neighbours in the document."""
    passage, document = find_passage(searcher, passage_id)
    neighbours = searcher.neighbours(passage)
    return passage_detail(searcher.version, passage, document, neighbours)


@router.get("/documents", response_model=DocumentList, responses=UNAVAILABLE, tags=["documents"])
def list_documents(searcher: SearcherDep) -> DocumentList:
    """Every indexed document with its metadata and passage count."""
    return DocumentList(
        index_version=searcher.version,
        documents=[document_out(d) for d in searcher.documents()],
    )


@router.get(
    "/documents/{doc_id}", response_model=DocumentOut, responses=NOT_FOUND, tags=["documents"]
)
def get_document(searcher: SearcherDep, doc_id: str) -> DocumentOut:
    return document_out(find_document(searcher, doc_id))


@router.get(
    "/documents/{doc_id}/text",
    response_class=PlainTextResponse,
    responses=NOT_FOUND,
    tags=["documents"],
)
def get_document_text(searcher: SearcherDep, doc_id: str) -> PlainTextResponse:
    """The canonical text that every citation's char_start/char_end point into."""
    document = find_document(searcher, doc_id)
    text = searcher.document_text(document.doc_id) or ""
    return PlainTextResponse(text, headers={"X-Index-Version": searcher.version})
