"""Raw pages -> canonical text, page spans and headings. Pure functions.

The canonical text is what citations point into: readable text with markup removed,
one source line per line, blank lines kept as paragraph breaks, pages separated by a
blank line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.records import Heading, PageSpan, RawPage
from ingest.clean import (
    collapse_spaces,
    dehyphenate,
    html_to_lines,
    normalize_unicode,
    strip_markdown,
    table_row_to_text,
)
from ingest.heading_rules import BOLD, MAX_HEADING_CHARS, heading_levels

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+\S")
_BOLD_ONLY = re.compile(r"^\*\*[^*]+\*\*$")


@dataclass(frozen=True)
class Line:
    text: str
    heading_level: int | None = None
    blank_before: bool = False


def _merge_open_bold(lines: list[str]) -> list[str]:
    """A bold heading wrapped over several source lines becomes one line."""
    merged: list[str] = []
    pending: list[str] = []
    for line in lines:
        if pending:
            if not line.strip() or len(pending) >= 6:
                merged.extend(pending)
                pending = []
            else:
                pending.append(line.strip())
                if line.count("**") % 2 == 1:
                    merged.append(" ".join(pending))
                    pending = []
                continue
        if line.lstrip().startswith("**") and line.count("**") % 2 == 1:
            pending = [line.strip()]
        else:
            merged.append(line)
    merged.extend(pending)
    return merged


def _explicit_level(raw: str, *, markdown: bool) -> int | None:
    """Heading level from markdown markup alone: "#" count, or BOLD for a bold-only line."""
    if not markdown:
        return None
    stripped = raw.strip()
    md = _MD_HEADING.match(stripped)
    if md:
        return len(md.group(1))
    if _BOLD_ONLY.match(stripped) and len(stripped) <= MAX_HEADING_CHARS + 4:
        return BOLD
    return None


def page_lines(raw: str, *, markdown: bool) -> list[Line]:
    """Clean one page's raw text into lines, marking headings."""
    text = dehyphenate(normalize_unicode(raw))
    source_lines = text.split("\n")
    if markdown:
        source_lines = _merge_open_bold(source_lines)
    out: list[Line] = []
    blank = False
    for source in source_lines:
        for piece in html_to_lines(source):
            level = _explicit_level(piece, markdown=markdown)
            cleaned = piece if not markdown else strip_markdown(piece)
            cleaned = collapse_spaces(table_row_to_text(cleaned))
            if not cleaned:
                blank = True
                continue
            if level is not None and len(cleaned) > MAX_HEADING_CHARS:
                level = None
            out.append(Line(cleaned, level, blank_before=blank and bool(out)))
            blank = False
    return _mark_headings(out)


def _mark_headings(lines: list[Line]) -> list[Line]:
    """Settle heading levels with the heading rules (ingest.heading_rules)."""
    levels = heading_levels([(line.text, line.heading_level) for line in lines])
    return [
        Line(line.text, level, line.blank_before) for line, level in zip(lines, levels, strict=True)
    ]


def assemble(
    pages: Sequence[RawPage], *, markdown: bool
) -> tuple[str, tuple[PageSpan, ...], tuple[Heading, ...]]:
    """Canonical text of a document with where each page and heading sits in it."""
    parts: list[str] = []
    length = 0
    spans: list[PageSpan] = []
    headings: list[Heading] = []
    for page in pages:
        lines = page_lines(page.text, markdown=markdown)
        if not lines:
            continue  # empty pages carry nothing to cite
        if parts:
            parts.append("\n\n")
            length += 2
        page_start = length
        for i, line in enumerate(lines):
            if i:
                sep = "\n\n" if line.blank_before or line.heading_level else "\n"
                parts.append(sep)
                length += len(sep)
            if line.heading_level is not None:
                headings.append(
                    Heading(line.heading_level, line.text, length, length + len(line.text))
                )
            parts.append(line.text)
            length += len(line.text)
        if page.number is not None:
            spans.append(PageSpan(page.number, page.label, page_start, length))
    return "".join(parts), tuple(spans), tuple(headings)


def heading_path(headings: Sequence[Heading], position: int) -> tuple[Heading, ...]:
    """Headings in force at `position`, outermost first (headings sorted by char_start)."""
    stack: list[Heading] = []
    for heading in headings:
        if heading.char_start > position:
            break
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
    return tuple(stack)


def section_path(headings: Sequence[Heading], position: int) -> tuple[str, ...]:
    """Heading path in force at `position`, each title cut to citation length."""
    return tuple(_short(h.title) for h in heading_path(headings, position))


def _short(title: str, limit: int = 120) -> str:
    if len(title) <= limit:
        return title
    cut = title.rfind(" ", 0, limit)
    return title[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"
