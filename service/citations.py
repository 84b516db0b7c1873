"""Citation records and readable author-date citations. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.records import DocumentInfo, Metadata, Passage

_ACRONYM = re.compile(r"\(([A-Z]{2,})\)")


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    year: int | None
    series: str | None
    number: int | None
    source: str
    page: int | None
    page_label: str | None
    section: str | None
    char_start: int
    char_end: int
    formatted: str


def section_text(section: Sequence[str]) -> str | None:
    return " › ".join(section) if section else None


def locator(page: int | None, page_label: str | None, section: Sequence[str]) -> str | None:
    """Where in the document: the printed page if known, else the innermost section."""
    if page is not None:
        label = page_label or str(page)
        return f"p. {label}" if label == str(page) else f"p. {label} (PDF p. {page})"
    if section:
        return f"section “{section[-1]}”"
    return None


def _short_publisher(metadata: Metadata) -> str | None:
    """ "International Organization for Migration (IOM), Geneva" -> "IOM, Geneva" when the
    publisher is also the author, so the citation does not name it twice in full."""
    publisher, author = metadata.publisher, metadata.author
    if not publisher:
        return None
    if author and publisher.startswith(author):
        acronym = _ACRONYM.search(author)
        if acronym:
            return acronym.group(1) + publisher[len(author) :]
    return publisher


def format_reference(metadata: Metadata) -> str:
    """Author (year). Title. Series, No. N. Publisher."""
    author = metadata.author or metadata.publisher or "Anonymous"
    year = str(metadata.year) if metadata.year else "n.d."
    parts = [f"{author} ({year}). {metadata.title.rstrip('.')}."]
    if metadata.series:
        series = metadata.series + (f", No. {metadata.number}" if metadata.number else "")
        parts.append(f"{series}.")
    publisher = _short_publisher(metadata)
    if publisher and publisher != author:
        parts.append(f"{publisher}.")
    return " ".join(parts)


def format_citation(metadata: Metadata, where: str | None) -> str:
    reference = format_reference(metadata)
    return f"{reference[:-1]}, {where}." if where else reference


def cite(document: DocumentInfo, passage: Passage) -> Citation:
    metadata = document.metadata
    return Citation(
        doc_id=document.doc_id,
        title=metadata.title,
        year=metadata.year,
        series=metadata.series,
        number=metadata.number,
        source=document.source,
        page=passage.page,
        page_label=passage.page_label,
        section=section_text(passage.section),
        char_start=passage.char_start,
        char_end=passage.char_end,
        formatted=format_citation(
            metadata, locator(passage.page, passage.page_label, passage.section)
        ),
    )
