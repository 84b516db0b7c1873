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

MAX_HEADING_CHARS = 300
MAX_NUMBERED_HEADING_CHARS = 200
MAX_QUESTION_HEADING_CHARS = 800
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(?=\S)")
_QUESTION = re.compile(r"^Q\d{1,2}\.\s+\S")
_DOT_LEADER = re.compile(r"\.{4,}|…{2,}")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+\S")
_BOLD_ONLY = re.compile(r"^\*\*[^*]+\*\*$")
# An agenda's session titles, often after their time slot in a table row:
# "11:30 – 13:00 New York Time | PANEL 5: Building resilient and peaceful cities".
_AGENDA_ITEM = re.compile(
    r"^(?:[^|]{1,60}\|\s*)?(?:PANEL|SESSION|Panel|Session)\s+\d{1,2}\s*:\s*\S"
    # or a time slot and a capitalised label: "15:00 – 16:30 | CLOSING REMARKS: ..."
    r"|^\d{1,2}[:.]\d{2}[^|]{0,50}\|\s*[A-Z][A-Z ]{3,40}:\s*\S"
)
# A time slot alone ("10:00 – 11:30 New York Time"), bold in a programme: a table cell,
# not a part of the document.
_TIME_SLOT = re.compile(r"^\d{1,2}[:.]\d{2}\s*[–-]\s*\d{1,2}[:.]\d{2}\b[^|]{0,30}$")
# The title of a list that follows it ("International Dialogue on Migration Series").
_LIST_TITLE = re.compile(
    r"^[A-Z][\w’'-]*(?:\s+(?:[A-Z0-9][\w’'–-]*|of|on|and|the|in|for|to|a|an|with|at|by)){2,}$"
)
MAX_LIST_TITLE_CHARS = 80
_ANNEX = re.compile(
    r"^(?:ANNEX|Annex|APPENDIX|Appendix)(?:\s+[0-9IVXA-H]{1,4})?\s*(?:[:.–-]\s*\S.*)?$"
)


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


def _numbered_depth(text: str) -> int | None:
    match = _NUMBERED.match(text)
    if match is None:
        return None
    return match.group(1).count(".") + 1


def _numbered_heading_depth(text: str) -> int | None:
    """Depth of a numbered heading such as "4.3 Shared challenges", else None."""
    depth = _numbered_depth(text)
    if depth is None or len(text) > MAX_NUMBERED_HEADING_CHARS or _DOT_LEADER.search(text):
        return None
    if " | " in text:  # a table row, e.g. a table of contents entry with its page
        return None
    first = text[_NUMBERED.match(text).end()]  # type: ignore[union-attr]
    if not (first.isupper() or first.isdigit()) or text.endswith((".", ",")):
        return None
    return depth


# Marker for a bold-only line: a heading whose level comes from its neighbours.
_BOLD = 0


def _explicit_level(raw: str, *, markdown: bool) -> int | None:
    """Heading level from markdown markup alone: "#" count, or _BOLD for a bold-only line."""
    if not markdown:
        return None
    stripped = raw.strip()
    md = _MD_HEADING.match(stripped)
    if md:
        return len(md.group(1))
    if _BOLD_ONLY.match(stripped) and len(stripped) <= MAX_HEADING_CHARS + 4:
        return _BOLD
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
    return _mark_numbered_headings(out)


def _mark_numbered_headings(lines: list[Line]) -> list[Line]:
    """Settle heading levels.

    Numbered lines ("4.3 Shared challenges") are headings unless they sit in a run of
    same-depth numbered lines (a list, a table of contents); their level is their
    numbering depth below the last unnumbered heading, because extracted markdown uses
    "#" counts inconsistently for numbered headings. Questionnaire items ("Q3. ...")
    are top-level headings.
    """
    depths = [_numbered_depth(line.text) for line in lines]
    agenda = [bool(_AGENDA_ITEM.match(line.text)) for line in lines]

    def list_follows(i: int) -> bool:
        """Two numbered items follow, and they are a list rather than a contents page."""
        following = range(i + 1, i + 3)
        return i + 2 < len(lines) and all(
            depths[j] == 1 and not _DOT_LEADER.search(lines[j].text) and " | " not in lines[j].text
            for j in following
        )

    base = 0  # level of the last unnumbered heading
    last_top = 0  # number of the last accepted top-level numbered heading
    marked: list[Line] = []
    for i, line in enumerate(lines):
        level = line.heading_level
        depth = depths[i]
        if (
            level is None
            and _QUESTION.match(line.text)
            and len(line.text) <= MAX_QUESTION_HEADING_CHARS
        ) or (
            level is None
            and _ANNEX.match(line.text)
            and len(line.text) <= 150
            and not _DOT_LEADER.search(line.text)
            and " | " not in line.text
        ):
            level = base = 1
        elif (
            level is None
            and depth is None
            and agenda[i]
            and len(line.text) <= MAX_HEADING_CHARS
            and not (i > 0 and agenda[i - 1])
            and not (i + 1 < len(lines) and agenda[i + 1])
        ):
            # A session title opening its own part (a run of them is an overview list),
            # below the annex or proceedings heading it sits in, which stays the base.
            level = base + 1
        elif depth is not None and (level is not None or _numbered_heading_depth(line.text)):
            in_list = (i > 0 and depths[i - 1] == depth) or (
                i + 1 < len(lines) and depths[i + 1] == depth
            )
            number = int(line.text.split(".", 1)[0].split()[0])
            # Numbered items in tables and lists restart or go back; real top-level
            # headings only count up.
            out_of_sequence = depth == 1 and number <= last_top
            explicit = level is not None and level != _BOLD
            if explicit or not (in_list or out_of_sequence):
                level = base + depth
                if depth == 1:
                    last_top = number
            else:
                level = None
        elif (
            level is None
            and depth is None
            and len(line.text) <= MAX_LIST_TITLE_CHARS
            and _LIST_TITLE.match(line.text)
            and list_follows(i)
        ):
            level = base = 1
        elif level == _BOLD and _TIME_SLOT.match(line.text):
            level = None
        elif level == _BOLD:
            level = base or 1
            base = level
        elif level is not None:
            base = level
        marked.append(Line(line.text, level, line.blank_before))
    return marked


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
