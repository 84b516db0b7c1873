"""The citation rules, held once, and the `formatted` field built on them.

Where a passage sits (Locator, `where_text`), who wrote it (`authors`), who published it and
where (`publisher_and_place`, `acronym`, `publisher_is_author`) and when (`year_text`) are
decided here only. Every style reads these rules: the `formatted` field of a passage below,
and APA, Chicago, BibTeX, RIS and CSL-JSON in service.export. A researcher who quotes one
style and checks another therefore finds the same page and the same publisher. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.records import DocumentInfo, Metadata, Passage

# Words that mark an author as an organisation rather than a person.
_CORPORATE = re.compile(
    r"\b(organi[sz]ation|office|agency|nations|institute|department|ministry|commission|"
    r"council|programme|program|fund|bank|union|cent(?:re|er)|university|association|"
    r"secretariat|group|network|forum|committee|foundation|government|world|international)\b",
    re.IGNORECASE,
)
# An acronym stands for the whole name only when it closes it: in "International Labour
# Organization (ILO) and IOM" the "(ILO)" names one of two authors, so it cannot replace both.
_ACRONYM = re.compile(r"\s*\(([A-Z][A-Za-z]*[A-Z])\)\s*$")
# The publisher may repeat the author's acronym right after the name: "… Migration (IOM), Geneva".
_LEADING_ACRONYM = re.compile(r"^\s*\(([A-Z][A-Za-z]*[A-Z])\)")
_PLACE = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2}$")


# --- Where: the locator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Locator:
    """Where in the document a passage sits: a printed page (PDF sources) or a section."""

    page: int | None = None  # physical page in the PDF, 1-based
    page_label: str | None = None  # the number printed on that page, if it differs
    section: tuple[str, ...] = ()

    @property
    def page_text(self) -> str | None:
        """The printed page: the number a reader of the paper copy finds."""
        if self.page is None:
            return None
        return self.page_label or str(self.page)

    @property
    def pdf_page(self) -> int | None:
        """The physical page, only when the printed number does not already give it (front
        matter in roman numerals, an uncounted cover): a reader of the PDF needs it."""
        if self.page is None or self.page_text == str(self.page):
            return None
        return self.page

    @property
    def section_text(self) -> str | None:
        return section_text(self.section)


def section_text(section: Sequence[str]) -> str | None:
    return " › ".join(section) if section else None


def where_text(
    where: Locator | None, *, page_prefix: str = "p. ", with_pdf_page: bool = True
) -> str | None:
    """The passage's place as a citation prints it: the printed page if known, else the
    innermost section heading (APA 7 §8.28: without page numbers, name the section).

    Styles differ only in how a page is written, never in which page or section is named:
    APA 7 §8.13 prefixes "p.", Chicago 17 14.22 gives the bare number, and only the house
    `formatted` field adds the PDF page, which neither guide knows of."""
    if where is None:
        return None
    if where.page_text is not None:
        text = f"{page_prefix}{where.page_text}"
        if with_pdf_page and where.pdf_page is not None:
            text += f" (PDF p. {where.pdf_page})"
        return text
    if where.section:
        return f"section “{where.section[-1]}”"
    return None


def locator(page: int | None, page_label: str | None, section: Sequence[str]) -> str | None:
    """Where in the document, as the `formatted` field says it: "p. iii (PDF p. 5)"."""
    return where_text(Locator(page, page_label, tuple(section)))


# --- Who: authors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    family: str
    given: str | None = None


Author = Person | str  # a str is a corporate (literal) author


def is_corporate(name: str) -> bool:
    return bool(_CORPORATE.search(name)) or "(" in name or len(name.split()) > 4


def _person(name: str) -> Person:
    """ "Smith, John" and "John Smith" both -> Person("Smith", "John")."""
    if "," in name:
        family, given = (s.strip() for s in name.split(",", 1))
    elif " " in name:
        given, family = name.rsplit(" ", 1)
    else:
        family, given = name, ""
    return Person(family=family, given=given or None)


def authors(metadata: Metadata) -> list[Author]:
    """The authors: one organisation, kept whole (APA 7 §9.11 group author), or people split
    on ";" / " and " / "&"."""
    name = (metadata.author or "").strip()
    if not name:
        return []
    if is_corporate(name):
        return [name]
    parts = (p.strip().strip(",") for p in re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", name))
    return [_person(part) for part in parts if part]


# --- Who published it, where, and when ------------------------------------------------------


def publisher_and_place(metadata: Metadata) -> tuple[str | None, str | None]:
    """ "International Organization for Migration (IOM), Geneva" -> (name, "Geneva")."""
    publisher = (metadata.publisher or "").strip()
    if not publisher:
        return None, None
    name, sep, place = publisher.rpartition(", ")
    if sep and name and _PLACE.match(place) and not is_corporate(place):
        return name, place
    return publisher, None


def without_acronym(name: str) -> str:
    """ "International Organization for Migration (IOM)" -> "International Organization for
    Migration" (APA 7 §9.11 and Chicago 17 spell a group author out)."""
    return _ACRONYM.sub("", name).strip()


def acronym(name: str) -> str | None:
    match = _ACRONYM.search(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class AuthorAsPublisher:
    """A publisher that is the author itself: what it adds to the author's name."""

    acronym: str | None  # from the author, else from the publisher
    rest: str  # "" or the imprint after the name, such as ", Geneva"


def author_as_publisher(metadata: Metadata) -> AuthorAsPublisher | None:
    """The publisher read as the author's own name (with or without its acronym) plus perhaps a
    place, or None when someone else published the work."""
    author = (metadata.author or "").strip()
    publisher = (metadata.publisher or "").strip()
    name = without_acronym(author)
    if not name or not publisher.startswith(name):
        return None
    after = publisher[len(name) :]
    repeated = _LEADING_ACRONYM.match(after)
    rest = after[repeated.end() :] if repeated else after
    if rest and not rest.startswith(","):
        return None  # "OECD Publishing" is not the author "OECD"
    found = acronym(author) or (repeated.group(1) if repeated else None)
    return AuthorAsPublisher(acronym=found, rest=rest)


def publisher_is_author(metadata: Metadata) -> bool:
    """Group reports name the organisation twice; APA 7 §9.29 then omits the publisher and
    the `formatted` field shortens it to the acronym."""
    return author_as_publisher(metadata) is not None


def year_text(year: int | None) -> str:
    return str(year) if year is not None else "n.d."  # APA 7 §9.17: no date


# --- The `formatted` field: author (year). title. series, No. N. publisher, p. X -------------


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


def _short_publisher(metadata: Metadata) -> str | None:
    """The publisher, by its acronym when it is also the author, whose full name the citation
    already gives: "IOM, Geneva" rather than the organisation's name twice."""
    own = author_as_publisher(metadata)
    if own is not None and own.acronym:
        return own.acronym + own.rest
    return metadata.publisher or None


def format_reference(metadata: Metadata) -> str:
    """Author (year). Title. Series, No. N. Publisher."""
    author = metadata.author or metadata.publisher or "Anonymous"
    parts = [f"{author} ({year_text(metadata.year)}). {metadata.title.rstrip('.')}."]
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
    where = Locator(passage.page, passage.page_label, passage.section)
    return Citation(
        doc_id=document.doc_id,
        title=metadata.title,
        year=metadata.year,
        series=metadata.series,
        number=metadata.number,
        source=document.source,
        page=passage.page,
        page_label=passage.page_label,
        section=where.section_text,
        char_start=passage.char_start,
        char_end=passage.char_end,
        formatted=format_citation(metadata, where_text(where)),
    )
