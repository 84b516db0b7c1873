"""The public HTTP API: request and response models (documented in /docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
DEFAULT_TOP_K = 5

# What a client may send, quoted in every 422 so the fix is obvious.
ALLOWED = {
    "question": f"a string of 1–{MAX_QUESTION_CHARS} characters with some non-blank text",
    "q": f"a string of 1–{MAX_QUESTION_CHARS} characters with some non-blank text",
    "top_k": f"an integer from 1 to {MAX_TOP_K} (default {DEFAULT_TOP_K})",
    "k": f"an integer from 1 to {MAX_TOP_K} (default {DEFAULT_TOP_K})",
}


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
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, description=ALLOWED["question"]
    )
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=ALLOWED["top_k"])

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain some text, not only whitespace")
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


class PassageOut(BaseModel):
    rank: int
    score: float = Field(description="Cosine similarity between question and passage")
    passage_id: str
    text: str
    citation: CitationOut


class AskResponse(BaseModel):
    question: str
    index_version: str
    took_ms: float
    passages: list[PassageOut]


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
    documents: int
    passages: int


class ErrorOut(BaseModel):
    detail: str
