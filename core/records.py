"""Typed records passed between the steps: document -> pages -> passages -> hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
    bonus: float = 0.0
    hints: tuple[str, ...] = ()
    # The cross-encoder's logit (for the leading candidates, the mean of its two readings);
    # None when it did not read the hit.
    rerank_score: float | None = None
    rerank_rank: int | None = None  # its place among the candidates the cross-encoder read


@dataclass(frozen=True)
class Highlight:
    """A sentence of a passage that best answers the question; offsets within the passage."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Located:
    passage: Passage
    document: DocumentInfo


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    document: DocumentInfo
    why: Why
    highlights: tuple[Highlight, ...] = ()
    matched_terms: tuple[str, ...] = ()
    also_in: tuple[Located, ...] = ()  # near-identical passages elsewhere, collapsed here


@dataclass(frozen=True)
class Filters:
    """Restrict a search; None means no restriction."""

    doc_ids: frozenset[str] | None = None
    year_from: int | None = None
    year_to: int | None = None
    types: frozenset[str] | None = None

    def admits(self, document: DocumentInfo) -> bool:
        year = document.metadata.year
        return (
            (self.doc_ids is None or document.doc_id in self.doc_ids)
            and (self.types is None or document.metadata.type in self.types)
            and (self.year_from is None or (year is not None and year >= self.year_from))
            and (self.year_to is None or (year is not None and year <= self.year_to))
        )


@dataclass(frozen=True)
class Signals:
    """What the confidence estimate looks at."""

    dense: float  # best combined dense score among the candidates
    sentence: float  # best single-sentence cosine
    bm25: float  # best BM25 score divided by the query's total idf
    coverage: float  # idf-weighted share of query terms found in the top passages
    missing: float  # rarest query term absent from the top passages: its idf / the largest idf
    agreement: float  # share of the top 5 passages that keyword and dense search agree on
    margin: float  # how far the best dense score stands above the fifth
    focus: float  # idf-weighted share of query terms found together in one sentence
    lead: float  # how far the best fused score stands above the fifth
    unknown_name: float  # 1 when the question names something no document mentions
    absent_name: float  # 1 when a name of several words is in none of the top 3 passages
    absent_number: float  # 1 when the leading passage never writes a number the question names
    answer_absent: float  # 1 when a question asking for a number or date gets none highlighted
    rerank: float = 0.0  # the cross-encoder's best logit among what it read; precise mode


class Mode(StrEnum):
    """How much ranking work a question gets."""

    PRECISE = "precise"  # the first stage, then a cross-encoder reads its best candidates
    FAST = "fast"  # the first stage only: keyword and dense evidence fused


@dataclass(frozen=True)
class Stages:
    """What ran for one question, and how long each step took."""

    mode: Mode  # the mode asked for
    encode_ms: float  # the question's vector
    first_stage_ms: float  # keyword and dense retrieval, fusion, hints, highlights
    rerank_ms: float = 0.0
    reranked: int = 0  # candidates the cross-encoder read; 0 when it did not run
    reranker: str | None = None  # the cross-encoder's model id, when it ran
    read_whole: int = 0  # of the candidates read, the leading ones it read again, whole
    # How much its reading counted in the final order, 0-1: less for questions that share
    # few words with any passage, which it ranks worse than the first stage does.
    rerank_weight: float = 0.0
    adapted: bool = False  # the question's vector went through the query adapter


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    confidence: float
    answerable: bool
    facets: dict[str, int]  # doc_id -> passages among the top candidates
    signals: Signals
    stages: Stages
