"""Citation export: BibTeX, RIS, CSL-JSON, APA and Chicago from a document's metadata.

Pure functions: metadata and an optional locator in, text out. A locator (printed page or
section) makes the citation point at a passage rather than at the whole document. The styles
only arrange; which page, section, author form, publisher and year they name is decided by the
rules in service.citations, which the `formatted` field of every passage reads too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

from core.records import Metadata
from service.citations import (
    Author,
    Locator,
    Person,
    acronym,
    authors,
    is_corporate,
    publisher_and_place,
    publisher_is_author,
    where_text,
    without_acronym,
    year_text,
)

# The rules (locator, authors, publisher, acronym, year) live in service.citations; they are
# re-exported here for the modules that cite through this one.
__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MEDIA_TYPES",
    "Author",
    "Format",
    "Locator",
    "Person",
    "acronym",
    "authors",
    "bibtex_escape",
    "citation_key",
    "csl_item",
    "export",
    "is_corporate",
    "publisher_and_place",
    "to_apa",
    "to_bibtex",
    "to_chicago",
    "to_csl_json",
    "to_ris",
    "without_acronym",
]

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


def _apa_reference(metadata: Metadata, names: Sequence[Author]) -> str:
    """APA 7 §9.4: author, date, title, source; a work without an author starts with its title
    (§9.12), and a publisher that is also the author is left out (§9.29)."""
    publisher, _ = publisher_and_place(metadata)
    author = _apa_names(names)
    year = year_text(metadata.year)
    title = metadata.title.rstrip(".")
    series = None
    if metadata.series:
        series = metadata.series + (f" No. {metadata.number}" if metadata.number else "")
    title_part = f"{title} ({series})." if series else _end(title)
    parts = [f"{_end(author)} ({year}).", title_part] if author else [title_part, f"({year})."]
    if publisher and not publisher_is_author(metadata):
        parts.append(_end(without_acronym(publisher)))
    if metadata.url:
        parts.append(metadata.url)
    return " ".join(parts)


def _apa_in_text_author(names: Sequence[Author], title: str) -> str:
    """The author part of a parenthetical citation: a group spelled out with its acronym in
    brackets (APA 7 §8.21), one or two family names, or the first with "et al." (§8.17)."""
    if len(names) == 1 and isinstance(names[0], str):
        short, abbr = without_acronym(names[0]), acronym(names[0])
        return f"{short} [{abbr}]" if abbr else short
    families = [a if isinstance(a, str) else a.family for a in names]
    if not families:
        return f"“{title}”"  # §8.14: no author, so the title stands in
    if len(families) == 2:
        return " & ".join(families)
    return families[0] + (" et al." if len(families) > 2 else "")


def to_apa(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    """APA 7 reference; for a passage, followed by its parenthetical in-text citation."""
    names = authors(metadata)
    reference = _apa_reference(metadata, names)
    # §8.13: the printed page with "p."; the PDF page is no part of an APA citation.
    located = where_text(where, page_prefix="p. ", with_pdf_page=False)
    if located is None:
        return reference + "\n"
    who = _apa_in_text_author(names, metadata.title.rstrip("."))
    return f"{reference}\n({who}, {year_text(metadata.year)}, {located})\n"


def _chicago_imprint(metadata: Metadata) -> str:
    """Chicago 17 14.21: "Place: Publisher, Year", the publisher spelled out."""
    publisher, place = publisher_and_place(metadata)
    name = without_acronym(publisher) if publisher else None
    firm = f"{place}: {name}" if place and name else name
    return ", ".join(p for p in (firm, year_text(metadata.year)) if p)


def to_chicago(doc_id: str, metadata: Metadata, where: Locator | None = None) -> str:
    """Chicago notes and bibliography: the bibliography entry for a document, the full note
    (with page or section) for a passage (Chicago 17 14.20, 14.21)."""
    names = authors(metadata)
    title = metadata.title.rstrip(".")
    series = None
    if metadata.series:
        series = metadata.series + (f" {metadata.number}" if metadata.number else "")
    imprint = _chicago_imprint(metadata)
    # 14.22: a note gives the bare page number, no "p."
    located = where_text(where, page_prefix="", with_pdf_page=False)
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
