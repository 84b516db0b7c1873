"""Which cleaned lines of a document are headings, and at what level. Pure functions.

Markup says little in these documents: the markdown extracted from IOM and IDM reports
uses "#" counts inconsistently, bolds table cells, and leaves numbered titles unmarked.
So each line goes through a table of named rules, each recognising one document shape;
the first rule that applies decides the line's level. What the rules remember from the
lines before (the level of the last unnumbered heading, the last top-level number) is
an explicit `Outline` that each decision hands on to the next line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

MAX_HEADING_CHARS = 300
MAX_NUMBERED_HEADING_CHARS = 200
MAX_QUESTION_HEADING_CHARS = 800
MAX_ANNEX_HEADING_CHARS = 150
MAX_LIST_TITLE_CHARS = 80

# Marker for a bold-only line: a heading whose level comes from its neighbours.
BOLD = 0

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(?=\S)")
_QUESTION = re.compile(r"^Q\d{1,2}\.\s+\S")
_DOT_LEADER = re.compile(r"\.{4,}|…{2,}")
# An agenda's session titles, often after their time slot in a table row:
# "11:30 – 13:00 New York Time | PANEL 5: Building resilient and peaceful cities".
_AGENDA_ITEM = re.compile(
    r"^(?:[^|]{1,60}\|\s*)?(?:PANEL|SESSION|Panel|Session)\s+\d{1,2}\s*:\s*\S"
    # or a time slot and a capitalised label: "15:00 – 16:30 | CLOSING REMARKS: ..."
    r"|^\d{1,2}[:.]\d{2}[^|]{0,50}\|\s*[A-Z][A-Z ]{3,40}:\s*\S"
)
# A time slot alone ("10:00 – 11:30 New York Time").
_TIME_SLOT = re.compile(r"^\d{1,2}[:.]\d{2}\s*[–-]\s*\d{1,2}[:.]\d{2}\b[^|]{0,30}$")
# The title of a list that follows it ("International Dialogue on Migration Series").
_LIST_TITLE = re.compile(
    r"^[A-Z][\w’'-]*(?:\s+(?:[A-Z0-9][\w’'–-]*|of|on|and|the|in|for|to|a|an|with|at|by)){2,}$"
)
_ANNEX = re.compile(
    r"^(?:ANNEX|Annex|APPENDIX|Appendix)(?:\s+[0-9IVXA-H]{1,4})?\s*(?:[:.–-]\s*\S.*)?$"
)


@dataclass(frozen=True)
class LineFacts:
    """One line as the rules see it: its text, its markup and what its neighbours look like."""

    text: str
    marked: int | None  # level from markup: None, BOLD, or a "#" count
    depth: int | None  # numbering depth: "4.3 Shared challenges" -> 2; None if unnumbered
    number: int | None  # its first number: "4.3 Shared challenges" -> 4
    agenda: bool  # shaped like a session title
    agenda_nearby: bool  # the line before or after is shaped like a session title too
    same_depth_nearby: bool  # the line before or after is numbered at the same depth
    list_follows: bool  # the next two lines are top-level list items, not contents entries


@dataclass(frozen=True)
class Outline:
    """What the rules remember of the headings so far."""

    base: int = 0  # level of the last unnumbered heading
    last_top: int = 0  # number of the last accepted top-level numbered heading


@dataclass(frozen=True)
class Verdict:
    level: int | None  # None: not a heading
    outline: Outline  # what the next line's rules see


HeadingRule = Callable[[LineFacts, Outline], Verdict | None]  # None: the rule does not apply


def _numbering(text: str) -> re.Match[str] | None:
    return _NUMBERED.match(text)


def _is_table_row_or_contents_entry(text: str) -> bool:
    """Dot leaders and " | " cells mark contents pages and tables, which repeat titles."""
    return bool(_DOT_LEADER.search(text)) or " | " in text


def _plain_list_item(text: str) -> bool:
    match = _numbering(text)
    return (
        match is not None
        and match.group(1).count(".") == 0
        and not _is_table_row_or_contents_entry(text)
    )


def line_facts(lines: Sequence[tuple[str, int | None]]) -> list[LineFacts]:
    """Facts of each (text, markup level) line; the rules read neighbours only through these."""
    matches = [_numbering(text) for text, _ in lines]
    depths = [m.group(1).count(".") + 1 if m else None for m in matches]
    agenda = [bool(_AGENDA_ITEM.match(text)) for text, _ in lines]
    facts: list[LineFacts] = []
    for i, ((text, marked), match) in enumerate(zip(lines, matches, strict=True)):
        before, after = range(max(i - 1, 0), i), range(i + 1, min(i + 2, len(lines)))
        neighbours = [*before, *after]
        facts.append(
            LineFacts(
                text=text,
                marked=marked,
                depth=depths[i],
                number=int(match.group(1).split(".")[0]) if match else None,
                agenda=agenda[i],
                agenda_nearby=any(agenda[j] for j in neighbours),
                same_depth_nearby=depths[i] is not None
                and any(depths[j] == depths[i] for j in neighbours),
                list_follows=i + 2 < len(lines)
                and all(_plain_list_item(lines[j][0]) for j in (i + 1, i + 2)),
            )
        )
    return facts


def _top_level(outline: Outline) -> Verdict:
    """A top-level part: lines after it nest below it."""
    return Verdict(1, replace(outline, base=1))


def questionnaire_item(line: LineFacts, outline: Outline) -> Verdict | None:
    """A questionnaire item ("Q3. How has COVID-19 affected ...?") opens a top-level part.

    Questionnaires sent to Member States number their questions "Q1.", "Q2.", ...; each
    answer belongs under its question, whatever the question's length (the whole
    question is the line, so the limit is generous).
    """
    if (
        line.marked is None
        and _QUESTION.match(line.text)
        and len(line.text) <= MAX_QUESTION_HEADING_CHARS
    ):
        return _top_level(outline)
    return None


def annex_title(line: LineFacts, outline: Outline) -> Verdict | None:
    """An annex or appendix title ("ANNEX 1: PROGRAMME") opens a top-level part.

    Reports put programmes, participant lists and background papers in annexes, which
    stand beside the chapters whatever the numbering before them. Contents entries and
    table cells that name an annex are not its start.
    """
    if (
        line.marked is None
        and _ANNEX.match(line.text)
        and len(line.text) <= MAX_ANNEX_HEADING_CHARS
        and not _is_table_row_or_contents_entry(line.text)
    ):
        return _top_level(outline)
    return None


def agenda_session_title(line: LineFacts, outline: Outline) -> Verdict | None:
    """A session title ("PANEL 5: Building resilient cities") opens a part of the proceedings.

    Workshop reports give each panel or session its own part, often as a programme row
    after its time slot ("15:00 – 16:30 | CLOSING REMARKS: ..."). The part sits below the
    annex or proceedings heading it is in, which stays the base. A run of session titles
    is an overview list of the programme, not the parts themselves.
    """
    if (
        line.marked is None
        and line.depth is None
        and line.agenda
        and len(line.text) <= MAX_HEADING_CHARS
        and not line.agenda_nearby
    ):
        return Verdict(outline.base + 1, outline)
    return None


def _numbered_title_shape(text: str) -> bool:
    """An unmarked numbered line that reads like a title: short, capitalised, unpunctuated."""
    match = _numbering(text)
    if match is None or len(text) > MAX_NUMBERED_HEADING_CHARS:
        return False
    if _is_table_row_or_contents_entry(text):
        return False
    first = text[match.end()]
    return (first.isupper() or first.isdigit()) and not text.endswith((".", ","))


def _numbered_candidate(line: LineFacts) -> bool:
    return line.depth is not None and (line.marked is not None or _numbered_title_shape(line.text))


def numbered_list_item(line: LineFacts, outline: Outline) -> Verdict | None:
    """A numbered line among same-depth numbered lines, or numbered backwards, is no heading.

    Lists and tables number their items in runs ("1. ...", "2. ..." on consecutive
    lines) and restart their numbering, while a report's top-level sections are spread
    out and only count up. Markdown "#" markup overrides both signs: it was put there on
    purpose. Bold does not, because reports bold list items and table cells too.
    """
    if not _numbered_candidate(line) or (line.marked is not None and line.marked != BOLD):
        return None
    went_back = line.depth == 1 and (line.number or 0) <= outline.last_top
    if line.same_depth_nearby or went_back:
        return Verdict(None, outline)
    return None


def numbered_section_title(line: LineFacts, outline: Outline) -> Verdict | None:
    """A numbered title ("4.3 Shared challenges") is a heading as deep as its numbering.

    Its level counts from the last unnumbered heading, because the "#" counts of
    extracted markdown do not follow the numbering. A top-level number is remembered so
    that later numbers that go back are recognised as list or table items.
    """
    if not _numbered_candidate(line) or line.depth is None:
        return None
    last_top = line.number if line.depth == 1 and line.number is not None else outline.last_top
    return Verdict(outline.base + line.depth, replace(outline, last_top=last_top))


def numbered_list_title(line: LineFacts, outline: Outline) -> Verdict | None:
    """A short title-cased line right before a numbered list is the list's title.

    Reports close with lists such as "International Dialogue on Migration Series"
    followed by "1. ...", "2. ...": the items belong under their title, not under the
    last chapter. A contents page's title is not one: its entries carry dot leaders or
    page cells.
    """
    if (
        line.marked is None
        and line.depth is None
        and len(line.text) <= MAX_LIST_TITLE_CHARS
        and _LIST_TITLE.match(line.text)
        and line.list_follows
    ):
        return _top_level(outline)
    return None


def time_slot_alone(line: LineFacts, outline: Outline) -> Verdict | None:
    """A bold time slot alone ("10:00 – 11:30 New York Time") is no heading.

    Programmes bold the time column of their table; a time names no part of the
    document, and making it one would hide the session title that follows.
    """
    if line.marked == BOLD and _TIME_SLOT.match(line.text):
        return Verdict(None, outline)
    return None


def bold_heading(line: LineFacts, outline: Outline) -> Verdict | None:
    """A bold-only line is a heading at the level of the last unnumbered heading (else 1).

    Extracted markdown often renders a report's headings as bold paragraphs without
    "#" markup; they are siblings of the unnumbered heading before them.
    """
    if line.marked != BOLD:
        return None
    level = outline.base or 1
    return Verdict(level, replace(outline, base=level))


def markdown_heading(line: LineFacts, outline: Outline) -> Verdict | None:
    """A "#" heading keeps its markup level, which later unnumbered lines nest below."""
    if line.marked is None or line.marked == BOLD:
        return None
    return Verdict(line.marked, replace(outline, base=line.marked))


# In order: the first rule that applies decides. Lines no rule claims are body text.
HEADING_RULES: tuple[HeadingRule, ...] = (
    questionnaire_item,
    annex_title,
    agenda_session_title,
    numbered_list_item,
    numbered_section_title,
    numbered_list_title,
    time_slot_alone,
    bold_heading,
    markdown_heading,
)


def decide(line: LineFacts, outline: Outline) -> Verdict:
    """The first applying rule's verdict on one line; body text when none applies."""
    for rule in HEADING_RULES:
        verdict = rule(line, outline)
        if verdict is not None:
            return verdict
    return Verdict(None, outline)


def heading_levels(lines: Sequence[tuple[str, int | None]]) -> list[int | None]:
    """Heading level of each (text, markup level) line of a page; None for body text."""
    outline = Outline()
    levels: list[int | None] = []
    for line in line_facts(lines):
        verdict = decide(line, outline)
        levels.append(verdict.level)
        outline = verdict.outline
    return levels
