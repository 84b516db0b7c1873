"""Typed records passed between the steps: document -> pages -> passages -> hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metadata:
    """Bibliographic data of one document (from the corpus manifest or derived)."""

    title: str
    year: int | None = None
    series: str | None = None
    number: int | None = None
    publisher: str | None = None
    type: str | None = None
    isbn: str | None = None
    event: str | None = None
    author: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class RawPage:
    """Text of one physical page as extracted, before cleaning.

    Text sources (.txt/.md) have a single RawPage with number None.
    """

    number: int | None
    label: str | None
    text: str


@dataclass(frozen=True)
class LoadedDocument:
    doc_id: str
    source: str  # path relative to the corpus folder, POSIX separators
    content_hash: str  # sha256 of the file bytes
    kind: str  # "pdf" | "text" | "markdown"
    metadata: Metadata
    pages: tuple[RawPage, ...]


@dataclass(frozen=True)
class PageSpan:
    """Where a physical page sits in the canonical text."""

    number: int
    label: str | None
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Heading:
    """A heading line in the canonical text; `level` 1 is the outermost."""

    level: int
    title: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Document:
    """A document reduced to its canonical text, which every citation points into."""

    doc_id: str
    source: str
    content_hash: str
    kind: str
    metadata: Metadata
    text: str
    pages: tuple[PageSpan, ...] = ()
    headings: tuple[Heading, ...] = ()


@dataclass(frozen=True)
class Passage:
    passage_id: str
    doc_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    section: tuple[str, ...] = field(default_factory=tuple)
    page: int | None = None
    page_label: str | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """What the index knows about a document, without its text."""

    doc_id: str
    source: str
    kind: str
    content_hash: str
    metadata: Metadata
    pages: int
    passages: int


@dataclass(frozen=True)
class Why:
    """How a hit was ranked: its place in each result list and the fused score."""

    bm25_rank: int | None
    bm25_score: float | None
    dense_rank: int | None
    dense_score: float | None
    fused: float


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    document: DocumentInfo
    why: Why
