"""One set of citation rules: the `formatted` field of a passage and the exported styles
(APA, Chicago, BibTeX, RIS, CSL-JSON) name the same page, section and publisher."""

from __future__ import annotations

import json

import bibtexparser
import rispy
from hypothesis import given
from hypothesis import strategies as st

from core.records import DocumentInfo, Metadata, Passage
from service.citations import (
    Locator,
    author_as_publisher,
    cite,
    format_reference,
    publisher_is_author,
    where_text,
)
from service.export import to_apa, to_bibtex, to_chicago, to_csl_json, to_ris

IOM = "International Organization for Migration (IOM)"
IDM35 = Metadata(
    title="Leveraging Human Mobility in Support of the Sustainable Development Goals",
    year=2023,
    series="International Dialogue on Migration",
    number=35,
    publisher=f"{IOM}, Geneva",
    author=IOM,
)


def formatted(metadata: Metadata, where: Locator) -> str:
    document = DocumentInfo("d", "d.pdf", "pdf", "h", metadata, 1, 1)
    passage = Passage("p", "d", 0, "text", 0, 4, where.section, where.page, where.page_label)
    return cite(document, passage).formatted


def formatted_locator(metadata: Metadata, where: Locator) -> str | None:
    """What the `formatted` field adds after the reference, or None when it adds nothing."""
    reference, text = format_reference(metadata), formatted(metadata, where)
    if text == reference:
        return None
    prefix = reference[:-1] + ", "
    assert text.startswith(prefix) and text.endswith(".")
    return text[len(prefix) : -1]


def apa_locator(metadata: Metadata, where: Locator) -> str | None:
    """The locator of the APA parenthetical citation "(Author, year, locator)"."""
    lines = to_apa("d", metadata, where).splitlines()
    if len(lines) == 1:
        return None
    head = f"(International Organization for Migration [IOM], {metadata.year}, "
    assert lines[1].startswith(head) and lines[1].endswith(")")
    return lines[1][len(head) : -1]


# --- the locator ----------------------------------------------------------------------------


def test_formatted_and_apa_name_the_same_page_and_publisher_for_one_passage() -> None:
    where = Locator(page=14, page_label="12", section=("4. Area", "4.3 Shared challenges"))
    # The publisher is the author: shortened to the acronym APA introduces, left out of APA.
    assert formatted(IDM35, where).endswith(" No. 35. IOM, Geneva, p. 12 (PDF p. 14).")
    reference, in_text = to_apa("d", IDM35, where).splitlines()
    assert reference.endswith("(International Dialogue on Migration No. 35).")
    assert in_text == "(International Organization for Migration [IOM], 2023, p. 12)"
    assert to_chicago("d", IDM35, where).endswith(
        "(Geneva: International Organization for Migration, 2023), 12.\n"
    )


def test_without_a_page_every_style_falls_back_to_the_same_innermost_section() -> None:
    where = Locator(section=("4. Area", "4.3 Shared challenges"))
    expected = "section “4.3 Shared challenges”"
    assert formatted_locator(IDM35, where) == expected
    assert apa_locator(IDM35, where) == expected
    assert to_chicago("d", IDM35, where).endswith(f", {expected}.\n")
    assert bibtexparser.loads(to_bibtex("d", IDM35, where)).entries[0]["note"] == (
        "Section: 4. Area › 4.3 Shared challenges"
    )


def test_data_formats_carry_the_printed_page_the_citations_name() -> None:
    where = Locator(page=5, page_label="iii")
    assert formatted_locator(IDM35, where) == "p. iii (PDF p. 5)"
    assert bibtexparser.loads(to_bibtex("d", IDM35, where)).entries[0]["pages"] == "iii"
    assert rispy.loads(to_ris("d", IDM35, where))[0]["start_page"] == "iii"
    assert json.loads(to_csl_json("d", IDM35, where))[0]["page"] == "iii"


headings = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
)
pages = st.none() | st.integers(min_value=1, max_value=2000)
labels = st.none() | st.just("") | st.sampled_from(["i", "iii", "xiv", "A-3", "12"]) | headings


@given(page=pages, label=labels, section=st.lists(headings, max_size=3).map(tuple))
def test_locator_text_is_identical_in_formatted_and_apa(
    page: int | None, label: str | None, section: tuple[str, ...]
) -> None:
    """Both name the printed page, else the innermost section; the house field alone adds the
    PDF page when the printed number differs from it (APA 7 §8.13 knows no PDF page)."""
    where = Locator(page, label, section)
    house, apa = formatted_locator(IDM35, where), apa_locator(IDM35, where)
    if page is None:
        assert house == apa == (f"section “{section[-1]}”" if section else None)
        return
    printed = label or str(page)
    assert apa == f"p. {printed}"
    assert house == apa + ("" if printed == str(page) else f" (PDF p. {page})")
    assert house == where_text(where) and apa == where_text(where, with_pdf_page=False)
    assert to_chicago("d", IDM35, where).endswith(f"), {printed}.\n")


# --- the publisher when it is also the author -----------------------------------------------


def test_publisher_that_is_the_author_is_shortened_in_formatted_and_left_out_of_apa() -> None:
    # The author spelled out without the acronym the publisher carries: the formatted field
    # used to repeat the publisher in full; APA already left it out.
    spelled = Metadata(
        title="T",
        year=2020,
        author="International Organization for Migration",
        publisher=f"{IOM}, Geneva",
    )
    assert (
        format_reference(spelled)
        == "International Organization for Migration (2020). T. IOM, Geneva."
    )
    assert to_apa("d", spelled) == "International Organization for Migration. (2020). T.\n"
    # The publisher spelled out without the acronym the author carries.
    plain = Metadata(
        title="T",
        year=2020,
        author=IOM,
        publisher="International Organization for Migration, Geneva",
    )
    assert format_reference(plain).endswith(". T. IOM, Geneva.")
    assert to_apa("d", plain).startswith("International Organization for Migration. (2020). T.\n")


def test_an_acronym_inside_a_joint_author_does_not_stand_for_the_publisher() -> None:
    joint = "International Labour Organization (ILO) and IOM"
    meta = Metadata(title="T", year=2020, author=joint, publisher=f"{joint}, Geneva")
    # "ILO, Geneva" would drop IOM from the imprint.
    assert format_reference(meta) == f"{joint} (2020). T. {joint}, Geneva."
    assert "[ILO]" not in to_apa("d", meta, Locator(page=1))
    mixed = Metadata(
        title="T",
        year=2020,
        author="Department for International Development (DfID)",
        publisher="Department for International Development (DfID), London",
    )
    assert format_reference(mixed).endswith(". T. DfID, London.")
    assert "Department for International Development [DfID], 2020, p. 1" in to_apa(
        "d", mixed, Locator(page=1)
    )


def test_apa_leaves_out_a_person_who_published_their_own_work() -> None:
    meta = Metadata(title="T", year=2020, author="Jane Doe", publisher="Jane Doe")
    assert format_reference(meta) == "Jane Doe (2020). T."
    assert to_apa("d", meta) == "Doe, J. (2020). T.\n"


def test_a_publishing_arm_is_not_the_author() -> None:
    meta = Metadata(title="T", year=2020, author="OECD", publisher="OECD Publishing, Paris")
    assert not publisher_is_author(meta)
    assert format_reference(meta).endswith(". T. OECD Publishing, Paris.")
    assert to_apa("d", meta) == "OECD. (2020). T. OECD Publishing.\n"


ORGANISATIONS = [
    ("International Organization for Migration", "IOM"),
    ("Department for International Development", "DfID"),
    ("United Nations Children's Fund", "UNICEF"),
    ("World Bank", None),
]


@st.composite
def author_and_publisher(draw: st.DrawFn) -> tuple[Metadata, str]:
    """An organisation as author (perhaps with its acronym) and as publisher, the same one or
    another (perhaps with acronym and place); also the publisher's name spelled out."""
    (name, abbr), other = draw(st.permutations(ORGANISATIONS))[:2]
    author = name + (f" ({abbr})" if abbr and draw(st.booleans()) else "")
    same = draw(st.booleans())
    pub_name, pub_abbr = (name, abbr) if same else other
    publisher = pub_name + (f" ({pub_abbr})" if pub_abbr and draw(st.booleans()) else "")
    publisher += draw(st.sampled_from(["", ", Geneva", ", New York"]))
    return Metadata(title="T", year=2020, author=author, publisher=publisher), pub_name


@given(author_and_publisher())
def test_formatted_and_apa_agree_on_when_the_publisher_is_the_author(
    case: tuple[Metadata, str],
) -> None:
    meta, publisher_name = case
    assert meta.author is not None and meta.publisher is not None
    apa_reference = to_apa("d", meta).rstrip("\n")
    house = format_reference(meta)
    own = author_as_publisher(meta)
    if not meta.author.startswith(publisher_name):
        # Someone else published it: both name that publisher (APA 7 §9.29 without the place).
        assert own is None and not publisher_is_author(meta)
        assert apa_reference.endswith(f" T. {publisher_name}.")
        assert house.endswith(f" T. {meta.publisher}.")
        return
    assert own is not None and publisher_is_author(meta)
    assert apa_reference.endswith(" T.")  # APA 7 §9.29: the author is not repeated
    if own.acronym is None:
        assert house.endswith(" T." if meta.publisher == meta.author else f" T. {meta.publisher}.")
        return
    # The house field shortens it to the acronym APA introduces for the same group (§8.21).
    assert house.endswith(f" T. {own.acronym}{own.rest}.")
    if meta.author.endswith(")"):
        assert f"[{own.acronym}]" in to_apa("d", meta, Locator(page=1))
