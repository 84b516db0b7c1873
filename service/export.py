"""Citation export: BibTeX, RIS, CSL-JSON, APA and Chicago from a document's metadata.

Pure functions: metadata and an optional locator in, text out. A locator (printed page or
section) makes the citation point at a passage rather than at the whole document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from core.records import Metadata

Format = Literal["bibtex", "ris", "csl-json", "apa", "chicago"]
FORMATS: tuple[str, ...] = get_args(Format)

MEDIA_TYPES: dict[str, str] = {
    "bibtex": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "csl-json": "application/vnd.citationstyles.csl+json",
    "apa": "text/plain",
    "chicago": "text/plain",
}
EXTENSIONS: dict[str, str] = {
    "bibtex": "bib",
    "ris": "ris",
    "csl-json": "json",
    "apa": "txt",
    "chicago": "txt",
}

# Words that mark an author as an organisation rather than a person.
_CORPORATE = re.compile(
    r"\b(organi[sz]ation|office|agency|nations|institute|department|ministry|commission|"
    r"council|programme|program|fund|bank|union|cent(?:re|er)|university|association|"
    r"secretariat|group|network|forum|committee|foundation|government|world|international)\b",
    re.IGNORECASE,
)
_ACRONYM = re.compile(r"\s*\(([A-Z][A-Za-z]*[A-Z])\)\s*$")
_PLACE = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2}$")


@dataclass(frozen=True)
class Locator:
    """Where in the document a passage sits: a printed page (PDF sources) or a section."""

    page: int | None = None
    page_label: str | None = None
    section: tuple[str, ...] = ()

    @property
    def page_text(self) -> str | None:
        if self.page is None:
            return None
        return self.page_label or str(self.page)

    @property
    def section_text(self) -> str | None:
        return " › ".join(self.section) if self.section else None


@dataclass(frozen=True)
class Person:
    family: str
    given: str | None = None


Author = Person | str  # a str is a corporate (literal) author


def is_corporate(name: str) -> bool:
    return bool(_CORPORATE.search(name)) or "(" in name or len(name.split()) > 4


def authors(metadata: Metadata) -> list[Author]:
    """The authors: one organisation, or people split on ";" / " and "."""
    name = (metadata.author or "").strip()
    if not name:
        return []
    if is_corporate(name):
        return [name]
    people: list[Author] = []
    for part in re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", name):
        part = part.strip().strip(",")
        if not part:
            continue
        if "," in part:
            family, given = (s.strip() for s in part.split(",", 1))
        elif " " in part:
            given, family = part.rsplit(" ", 1)
        else:
            family, given = part, ""
        people.append(Person(family=family, given=given or None))
    return people


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
    Migration" (APA and Chicago spell a group author out)."""
    return _ACRONYM.sub("", name).strip()


def acronym(name: str) -> str | None:
    match = _ACRONYM.search(name)
    return match.group(1) if match else None


def citation_key(doc_id: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_:-]+", "-", doc_id).strip("-")
    return key or "document"


# --- BibTeX ---------------------------------------------------------------------------------

_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_BIBTEX_RE = re.compile("|".join(re.escape(c) for c in _BIBTEX_SPECIAL))
# Words with two or more capitals (SDGs, COVID-19, IOM) keep their case in any style.
_KEEP_CASE = re.compile(r"\b(\w*[A-Z]\w*[A-Z][\w-]*)")


def bibtex_escape(text: str) -> str:
    return _BIBTEX_RE.sub(lambda m: _BIBTEX_SPECIAL[m.group(0)], text)


def _bibtex_title(title: str) -> str:
    return _KEEP_CASE.sub(r"{\1}", bibtex_escape(title))


def _bibtex_name(author: Author) -> str:
    if isinstance(author, str):
        return "{" + bibtex_escape(author) + "}"
    family = bibtex_escape(author.family)
    return f"{family}, {bibtex_escape(author.given)}" if author.given else family


def to_bibtex(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    publisher, place = publisher_and_place(metadata)
    names = authors(metadata)
    fields: list[tuple[str, str]] = []
    if names:
        fields.append(("author", " and ".join(_bibtex_name(a) for a in names)))
    fields.append(("title", _bibtex_title(metadata.title)))
    if metadata.series:
        fields.append(("series", bibtex_escape(metadata.series)))
    if metadata.number is not None:
        fields.append(("number", str(metadata.number)))
    if publisher:
        fields.append(("publisher", bibtex_escape(publisher)))
    if place:
        fields.append(("address", bibtex_escape(place)))
    if metadata.year is not None:
        fields.append(("year", str(metadata.year)))
    if metadata.isbn:
        fields.append(("isbn", bibtex_escape(metadata.isbn)))
    if metadata.url:
        fields.append(("url", bibtex_escape(metadata.url)))
    notes = [metadata.type or "", metadata.event or ""]
    if where is not None:
        if where.page_text:
            fields.append(("pages", bibtex_escape(where.page_text)))
        elif where.section_text:
            notes.append(f"Section: {where.section_text}")
    note = ". ".join(n for n in notes if n)
    if note:
        fields.append(("note", bibtex_escape(note)))
    entry_type = "book" if (metadata.isbn or metadata.series) else "misc"
    if entry_type == "misc" and publisher:
        fields = [(k if k != "publisher" else "howpublished", v) for k, v in fields]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{citation_key(doc_id)},\n{body}\n}}\n"


# --- RIS ------------------------------------------------------------------------------------


def _ris_name(author: Author) -> str:
    if isinstance(author, str):
        return author
    return f"{author.family}, {author.given}" if author.given else author.family


def to_ris(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    publisher, place = publisher_and_place(metadata)
    lines: list[tuple[str, str]] = [("TY", "BOOK" if metadata.isbn else "RPRT")]
    lines += [("AU", _ris_name(a)) for a in authors(metadata)]
    lines.append(("TI", metadata.title))
    if metadata.series:
        lines.append(("T3", metadata.series))
    if metadata.number is not None:
        lines.append(("IS", str(metadata.number)))
    if metadata.year is not None:
        lines.append(("PY", str(metadata.year)))
    if publisher:
        lines.append(("PB", publisher))
    if place:
        lines.append(("CY", place))
    if metadata.isbn:
        lines.append(("SN", metadata.isbn))
    if metadata.url:
        lines.append(("UR", metadata.url))
    if metadata.type:
        lines.append(("M3", metadata.type))
    if metadata.event:
        lines.append(("N1", metadata.event))
    if where is not None:
        if where.page_text:
            lines.append(("SP", where.page_text))
        if where.section_text:
            lines.append(("SE", where.section_text))
    lines.append(("ID", citation_key(doc_id)))
    # A value never spans lines in RIS.
    text = "".join(f"{tag}  - {' '.join(value.split())}\n" for tag, value in lines)
    return text + "ER  - \n"


# --- CSL-JSON -------------------------------------------------------------------------------


def _csl_name(author: Author) -> dict[str, str]:
    if isinstance(author, str):
        return {"literal": author}
    name = {"family": author.family}
    if author.given:
        name["given"] = author.given
    return name


def csl_item(doc_id: str, metadata: Metadata, where: Locator | None = None) -> dict[str, Any]:
    publisher, place = publisher_and_place(metadata)
    item: dict[str, Any] = {
        "id": citation_key(doc_id),
        "type": "book" if metadata.isbn else "report",
        "title": metadata.title,
    }
    names = authors(metadata)
    if names:
        item["author"] = [_csl_name(a) for a in names]
    if metadata.year is not None:
        item["issued"] = {"date-parts": [[metadata.year]]}
    optional = {
        "collection-title": metadata.series,
        "collection-number": None if metadata.number is None else str(metadata.number),
        "publisher": publisher,
        "publisher-place": place,
        "ISBN": metadata.isbn,
        "URL": metadata.url,
        "genre": metadata.type,
        "event": metadata.event,
    }
    item.update({k: v for k, v in optional.items() if v})
    if where is not None:
        if where.page_text:
            item["page"] = where.page_text
        if where.section_text:
            item["section"] = where.section_text
    return item


def to_csl_json(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    return json.dumps([csl_item(doc_id, metadata, where)], ensure_ascii=False, indent=2) + "\n"


# --- APA 7 and Chicago (notes and bibliography), plain text ----------------------------------


def _initials(given: str) -> str:
    return " ".join(f"{p[0]}." for p in re.split(r"[\s.]+", given) if p)


def _apa_names(names: Sequence[Author]) -> str:
    parts = []
    for a in names:
        if isinstance(a, str):
            parts.append(without_acronym(a))
        else:
            parts.append(f"{a.family}, {_initials(a.given)}" if a.given else a.family)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + ", & " + parts[-1]


def _chicago_names(names: Sequence[Author], *, inverted: bool) -> str:
    parts = []
    for i, a in enumerate(names):
        if isinstance(a, str):
            parts.append(without_acronym(a))
        elif a.given:
            first = inverted and i == 0
            parts.append(f"{a.family}, {a.given}" if first else f"{a.given} {a.family}")
        else:
            parts.append(a.family)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + (", and " if len(parts) > 2 else " and ") + parts[-1]


def _end(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _where_text(where: Locator | None, *, apa: bool) -> str | None:
    if where is None:
        return None
    if where.page_text:
        return f"p. {where.page_text}" if apa else where.page_text
    if where.section:
        return f"section “{where.section[-1]}”"
    return None


def to_apa(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    """APA 7 reference; for a passage, followed by its parenthetical in-text citation."""
    names = authors(metadata)
    publisher, _ = publisher_and_place(metadata)
    author = _apa_names(names)
    year = str(metadata.year) if metadata.year is not None else "n.d."
    title = metadata.title.rstrip(".")
    series = None
    if metadata.series:
        series = metadata.series + (f" No. {metadata.number}" if metadata.number else "")
    title_part = f"{title} ({series})." if series else _end(title)
    parts = [f"{_end(author)} ({year})." if author else "", title_part]
    if not author:
        parts = [title_part, f"({year})."]
    if publisher and without_acronym(publisher) != author:
        parts.append(_end(without_acronym(publisher)))
    if metadata.url:
        parts.append(metadata.url)
    reference = " ".join(p for p in parts if p)
    located = _where_text(where, apa=True)
    if located is None:
        return reference + "\n"
    if len(names) == 1 and isinstance(names[0], str):
        short = without_acronym(names[0])
        abbr = acronym(names[0])
        who = f"{short} [{abbr}]" if abbr else short
    elif names:
        first = names[0]
        family = first if isinstance(first, str) else first.family
        who = family + (" et al." if len(names) > 2 else "")
        if len(names) == 2:
            second = names[1]
            who = f"{family} & {second if isinstance(second, str) else second.family}"
    else:
        who = f"“{title}”"
    return f"{reference}\n({who}, {year}, {located})\n"


def to_chicago(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    """Chicago notes and bibliography: the bibliography entry for a document, the full note
    (with page or section) for a passage."""
    names = authors(metadata)
    publisher, place = publisher_and_place(metadata)
    year = str(metadata.year) if metadata.year is not None else "n.d."
    title = metadata.title.rstrip(".")
    series = None
    if metadata.series:
        series = metadata.series + (f" {metadata.number}" if metadata.number else "")
    imprint = ", ".join(
        p
        for p in (
            f"{place}: {without_acronym(publisher)}" if place and publisher else None,
            None if place else (without_acronym(publisher) if publisher else None),
            year,
        )
        if p
    )
    located = _where_text(where, apa=False)
    if located is None:
        parts = [_end(_chicago_names(names, inverted=True)) if names else "", _end(title)]
        if series:
            parts.append(_end(series))
        parts.append(_end(imprint))
        if metadata.url:
            parts.append(_end(metadata.url))
        return " ".join(p for p in parts if p) + "\n"
    lead = ", ".join(p for p in (_chicago_names(names, inverted=False), title, series) if p)
    note = f"{lead} ({imprint}), {located}"
    if metadata.url:
        note += f", {metadata.url}"
    return _end(note) + "\n"


_FORMATTERS = {
    "bibtex": to_bibtex,
    "ris": to_ris,
    "csl-json": to_csl_json,
    "apa": to_apa,
    "chicago": to_chicago,
}


def export(fmt: str, doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    """The citation of a document (or, with a locator, of a passage) in one format."""
    try:
        formatter = _FORMATTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (allowed: {', '.join(FORMATS)})") from None
    return formatter(doc_id, metadata, where)
