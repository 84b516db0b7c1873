"""What the MCP tools return: shapes for a model to read, built from the HTTP API's schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.export import Format
from service.schemas import CitationOut, HighlightOut

MAX_CONTEXT = 5  # passages on each side that get_passage returns at most
DEFAULT_CONTEXT = 1

ALLOWED_CONTEXT = f"an integer from 0 to {MAX_CONTEXT} (default {DEFAULT_CONTEXT})"


class QuotablePassage(BaseModel):
    passage_id: str = Field(description="Stable id; give it to get_passage or cite")
    text: str = Field(description="The passage, verbatim: quote from this text only")
    citation: CitationOut = Field(
        description="Where the passage is: `formatted` is the citation to print; "
        "char_start/char_end locate it in the document's canonical text"
    )
    permalink: str = Field(description="Full URL of the passage's web page; cite it with the quote")


class FoundPassage(QuotablePassage):
    highlights: list[HighlightOut] = Field(
        description="The one or two sentences that best answer the question"
    )


class SearchAnswer(BaseModel):
    note: str = Field(description="What to do with the result, in plain words; read it first")
    answerable: bool = Field(
        description="False: the reports hold no confident answer; say so instead of answering"
    )
    confidence: float = Field(ge=0, le=1, description="Calibrated probability of an answer")
    index_version: str
    passages: list[FoundPassage] = Field(description="Best first")


class PassageInContext(BaseModel):
    index_version: str
    passage: QuotablePassage
    before: list[QuotablePassage] = Field(description="Preceding passages, in document order")
    after: list[QuotablePassage] = Field(description="Following passages, in document order")


class Citation(BaseModel):
    style: Format
    doc_id: str
    passage_id: str | None = Field(description="Set when the citation points at a passage")
    text: str = Field(description="The citation in the style asked for")
