"""The public HTTP API: request and response models (documented in /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.records import Mode

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
DEFAULT_TOP_K = 5
# Some character that is not whitespace as Python's str.strip() sees it (the validator below
# checks it with a clearer message). Spelled out rather than `\S`, which a client's regex
# engine (ECMAScript, as JSON Schema specifies) reads differently: it takes "\x1c" for text.
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# What a client may send, quoted in every 422 so the fix is obvious.
ALLOWED = {
    "question": f"a string of 1–{MAX_QUESTION_CHARS} characters with some non-blank text",
    "q": f"a string of 1–{MAX_QUESTION_CHARS} characters with some non-blank text",
    "top_k": f"an integer from 1 to {MAX_TOP_K} (default {DEFAULT_TOP_K})",
    "k": f"an integer from 1 to {MAX_TOP_K} (default {DEFAULT_TOP_K})",
    "format": "one of bibtex, ris, csl-json, apa, chicago (default bibtex)",
    "mode": "precise (default: the first stage, then a cross-encoder reranks its best "
    "candidates) or fast (the first stage only)",
}


def is_valid_unicode(value: str) -> bool:
    """False for strings holding lone surrogates (JSON "\\ud800"), which no UTF-8 answer
    could carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class AskFilters(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"year_from": 2021, "type": ["IDM report"]}]},
    )

    doc_ids: list[str] | None = Field(
        None, max_length=100, description="Only these documents (see GET /documents)"
    )
    year_from: int | None = Field(None, ge=1900, le=2100, description="Published in or after")
    year_to: int | None = Field(None, ge=1900, le=2100, description="Published in or before")
    type: list[str] | None = Field(
        None, max_length=20, description='Document types, e.g. "IDM report", "IOM submission"'
    )


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "question": (
                        "How many participants attended the 2016 dialogue workshop in New York?"
                    ),
                    "top_k": 5,
                }
            ]
        },
    )

    question: str = Field(
        ...,
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description=ALLOWED["question"],
        json_schema_extra={"pattern": NOT_BLANK},
    )
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=ALLOWED["top_k"])
    filters: AskFilters | None = Field(None, description="Restrict the search")
    mode: Mode = Field(Mode.PRECISE, description=ALLOWED["mode"])

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain some text, not only whitespace")
        if not is_valid_unicode(value):
            raise ValueError("must be valid Unicode text, without lone surrogate code points")
        return value.strip()


class CitationOut(BaseModel):
    doc_id: str
    title: str
    year: int | None
    series: str | None
    number: int | None
    source: str = Field(description="Path of the document relative to the corpus folder")
    page: int | None = Field(description="1-based physical page of a PDF; null for text sources")
    page_label: str | None = Field(description="Printed page label of a PDF page")
    section: str | None = Field(description="Heading path, outermost first, joined by ' › '")
    char_start: int = Field(description="Offset of the passage in the document's canonical text")
    char_end: int = Field(description="canonical_text[char_start:char_end] == passage text")
    formatted: str = Field(description="Author-date citation with page or section")


class WhyOut(BaseModel):
    """How the passage was ranked."""

    bm25_rank: int | None = Field(description="Rank among keyword (BM25) results; null if absent")
    bm25_score: float | None
    dense_rank: int | None = Field(description="Rank among embedding results; null if absent")
    dense_score: float | None = Field(
        description="Cosine similarity: passage and best sentence combined"
    )
    fused: float = Field(
        description="The first stage's fused score; it orders the results in mode fast"
    )
    bonus: float = Field(
        0.0,
        description="Part of `fused` from the question's hints (a year naming the passage's "
        "document, a region whose country the passage names) less a penalty for text "
        "repeated in another document (boilerplate)",
    )
    hints: list[str] = Field(
        default_factory=list,
        description="What the bonus is for, e.g. 'document of 2023', "
        "'names Honduras (Central American)', 'repeated in another document'",
    )
    rerank_score: float | None = Field(
        None,
        description="The cross-encoder's score (a logit: higher is more relevant; for the "
        "candidates it also read whole, the mean of its two readings); null when it did not "
        "read this passage (mode fast, or below the candidates it reads)",
    )
    rerank_rank: int | None = Field(
        None, description="Rank among the candidates the cross-encoder read; null when not read"
    )


class HighlightOut(BaseModel):
    start: int = Field(description="Offset within the passage text")
    end: int
    doc_start: int = Field(description="Offset within the document's canonical text")
    doc_end: int
    text: str


class LocationOut(BaseModel):
    """Where else a (near-)identical passage appears."""

    passage_id: str
    citation: CitationOut


class PassageOut(BaseModel):
    rank: int
    score: float = Field(
        description="The score that orders the results (see `why`): `why.fused` in mode fast; "
        "in mode precise it also weighs the cross-encoder's `why.rerank_score`"
    )
    passage_id: str
    text: str
    citation: CitationOut
    highlights: list[HighlightOut] = Field(
        description="The one or two sentences that best answer the question"
    )
    matched_terms: list[str] = Field(description="Words of the passage that match the question")
    why: WhyOut
    also_in: list[LocationOut] = Field(
        description="Near-identical passages collapsed into this result"
    )


class FacetOut(BaseModel):
    doc_id: str
    title: str
    hits: int = Field(description="Passages of this document among the top 50 candidates")


class StagesOut(BaseModel):
    """What ran for this question, and how long each step took."""

    mode: Mode = Field(description="The ranking mode asked for")
    reranked: int = Field(
        ge=0, description="Candidates the cross-encoder read; 0 when it did not run (mode fast)"
    )
    reranker: str | None = Field(
        description="The cross-encoder's model id; null when it did not run"
    )
    read_whole: int = Field(
        ge=0,
        description="Of the candidates read, the leading ones the cross-encoder read again, "
        "whole; their rerank_score is the mean of both readings",
    )
    rerank_weight: float = Field(
        ge=0,
        le=1,
        description="How much the cross-encoder's reading counted in the final order, 0-1: "
        "1 when the question shares its rarer words with a passage, less as it shares fewer, "
        "down to 0 for a paraphrase, which the first stage ranks better than the "
        "cross-encoder reads it (its logit still informs confidence); 0 when it did not run",
    )
    adapted: bool = Field(
        description="True when the question's vector went through the query adapter fitted "
        "for the embedder, which moves questions toward the reports' wording"
    )
    encode_ms: float = Field(ge=0, description="Milliseconds to embed the question")
    first_stage_ms: float = Field(
        ge=0, description="Milliseconds of keyword and dense retrieval, fusion and highlights"
    )
    rerank_ms: float = Field(
        ge=0, description="Milliseconds of the cross-encoder; 0 when it did not run"
    )
    total_ms: float = Field(ge=0, description="Milliseconds of the whole answer, as `took_ms`")
    cached: bool = Field(
        description="True when the answer came from the cache (header X-Answer-Cache: hit): "
        "the step times are then those of the search that made it"
    )


class AskResponse(BaseModel):
    question: str
    index_version: str
    took_ms: float = Field(description="Milliseconds to answer, cache lookup and search included")
    answerable: bool = Field(
        description="False when the corpus holds no confident evidence; passages still shown"
    )
    confidence: float = Field(ge=0, le=1, description="Calibrated probability of an answer")
    passages: list[PassageOut]
    facets: list[FacetOut]
    stages: StagesOut = Field(description="What ran (mode, reranker) and each step's milliseconds")


class PassageDetail(BaseModel):
    passage_id: str
    index_version: str
    text: str
    citation: CitationOut
    previous_passage_id: str | None
    next_passage_id: str | None


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    kind: str = Field(description="pdf, text or markdown")
    title: str
    year: int | None
    series: str | None
    number: int | None
    publisher: str | None
    type: str | None
    isbn: str | None
    event: str | None
    author: str | None
    pages: int = Field(description="Pages with text (PDF sources); 0 for text sources")
    passages: int
    content_hash: str = Field(description="sha256 of the source file")


class DocumentList(BaseModel):
    index_version: str
    documents: list[DocumentOut]


class Health(BaseModel):
    status: str
    index_version: str | None
    replica: str = Field(description="Who answered: the Ray Serve replica, else host:pid")
    documents: int
    passages: int


class ErrorOut(BaseModel):
    detail: str


class ValidationErrorOut(BaseModel):
    """A request that does not fit the schema: what was wrong and what is allowed."""

    detail: str = Field(description="Every problem, each with what is allowed")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="The individual validation errors"
    )
