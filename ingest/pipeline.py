"""One corpus file -> its Document and passages (load -> canonical text -> chunks)."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DocumentError
from core.records import Document, LoadedDocument, Passage
from ingest.chunk import ChunkParams, chunk_document
from ingest.corpus import CorpusFile
from ingest.furniture import strip_furniture
from ingest.load import load
from ingest.pdf import PageProgress, PdfLimits
from ingest.sections import assemble
from ingest.text_version import text_version


@dataclass(frozen=True)
class Processed:
    document: Document
    passages: list[Passage]
    pages: int


def to_document(loaded: LoadedDocument) -> Document:
    pdf = loaded.kind == "pdf"
    pages = strip_furniture(loaded.pages) if pdf else loaded.pages
    text, spans, headings = assemble(pages, markdown=not pdf)
    return Document(
        doc_id=loaded.doc_id,
        source=loaded.source,
        content_hash=loaded.content_hash,
        kind=loaded.kind,
        metadata=loaded.metadata,
        text=text,
        pages=spans,
        headings=headings,
    )


def process(
    file: CorpusFile,
    doc_id: str,
    params: ChunkParams,
    limits: PdfLimits | None = None,
    on_pages: PageProgress | None = None,
) -> Processed:
    loaded = load(file, doc_id, limits, on_pages)
    document = to_document(loaded)
    passages = chunk_document(document, params)
    if not passages:
        raise DocumentError("no_text", "no text left after cleaning")
    pages = sum(1 for p in loaded.pages if p.number is not None)
    return Processed(document, passages, pages)


# Recorded in the index: an index built from other text-shaping code is re-parsed, not
# patched. Derived from the sources of ingest.text_version.TEXT_SHAPING_MODULES and of
# the two functions above that compose them, so it changes whenever they do. What the
# retrievers read for a passage besides its text (index.build.context_text) is above this
# layer and not covered.
TEXT_VERSION = text_version(to_document, process)
