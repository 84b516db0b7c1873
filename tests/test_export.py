"""Citation export: pure formatters checked with real parsers, and the /cite endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator

import bibtexparser
import pytest
import rispy
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from fastapi.testclient import TestClient

from core.records import Metadata
from core.settings import Settings
from service.app import create_app
from service.export import (
    FORMATS,
    Locator,
    authors,
    bibtex_escape,
    export,
    publisher_and_place,
    to_apa,
    to_bibtex,
    to_chicago,
    to_csl_json,
    to_ris,
)

IOM = "International Organization for Migration (IOM)"
IDM35 = Metadata(
    title="Leveraging Human Mobility in Support of the Sustainable Development Goals",
    year=2023,
    series="International Dialogue on Migration",
    number=35,
    publisher=f"{IOM}, Geneva",
    author=IOM,
    type="IDM report",
    isbn="978-92-9268-704-5",
    event="IDM New York session, 30–31 March 2023",
    url="https://publications.iom.int/books/idm-35",
)
SECTION = Locator(section=("4. Thematic area 1", "4.3 Shared challenges & 50% {gaps}"))
PAGE = Locator(page=14, page_label="12")


def render_csl(csl_json: str) -> str:
    source = CiteProcJSON(json.loads(csl_json))
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    key = next(iter(source))
    bibliography.register(Citation([CitationItem(key)]))
    return str(bibliography.bibliography()[0])


def test_bibtex_braces_the_corporate_author_and_parses() -> None:
    text = to_bibtex("idm-35-2023", IDM35, PAGE)
    assert "author = {{International Organization for Migration (IOM)}}" in text
    entry = bibtexparser.loads(text).entries[0]
    assert entry["ID"] == "idm-35-2023" and entry["ENTRYTYPE"] == "book"
    assert entry["author"] == "{International Organization for Migration (IOM)}"
    assert entry["title"].replace("{", "").replace("}", "") == IDM35.title
    assert entry["publisher"] == IOM and entry["address"] == "Geneva"
    assert entry["series"] == "International Dialogue on Migration" and entry["number"] == "35"
    assert entry["year"] == "2023" and entry["isbn"] == IDM35.isbn and entry["pages"] == "12"


def test_bibtex_escapes_special_characters_in_a_section_locator() -> None:
    entry = bibtexparser.loads(to_bibtex("idm-35-2023", IDM35, SECTION)).entries[0]
    assert r"4.3 Shared challenges \& 50\% \{gaps\}" in entry["note"]
    assert (
        bibtex_escape("a_b~c^d\\") == r"a\_b\textasciitilde{}c\textasciicircum{}d\textbackslash{}"
    )


def test_bibtex_without_series_or_isbn_is_misc() -> None:
    meta = Metadata(title="IOM input", year=2018, author=IOM, publisher=IOM)
    entry = bibtexparser.loads(to_bibtex("iom-2018", meta)).entries[0]
    assert entry["ENTRYTYPE"] == "misc" and entry["howpublished"] == IOM


def test_ris_parses_with_locator() -> None:
    [record] = rispy.loads(to_ris("idm-35-2023", IDM35, PAGE))
    assert record["type_of_reference"] == "BOOK"
    assert record["authors"] == [IOM]
    assert record["title"] == IDM35.title and record["year"] == "2023"
    assert record["publisher"] == IOM and record["place_published"] == "Geneva"
    assert record["tertiary_title"] == IDM35.series and record["number"] == "35"
    assert record["start_page"] == "12" and record["urls"] == [IDM35.url]
    [record] = rispy.loads(to_ris("idm-35-2023", IDM35, SECTION))
    assert record["section"] == "4. Thematic area 1 › 4.3 Shared challenges & 50% {gaps}"


def test_csl_json_uses_a_literal_name_and_renders_with_citeproc() -> None:
    text = to_csl_json("idm-35-2023", IDM35, PAGE)
    [item] = json.loads(text)
    assert item["author"] == [{"literal": IOM}]
    assert item["issued"] == {"date-parts": [[2023]]} and item["page"] == "12"
    assert item["collection-title"] == IDM35.series and item["collection-number"] == "35"
    rendered = render_csl(text)
    assert IOM in rendered and "2023" in rendered and "Leveraging Human Mobility" in rendered


def test_people_are_split_into_family_and_given_names() -> None:
    meta = Metadata(title="A study", year=2020, author="Jane Doe; Smith, John")
    assert [(a.family, a.given) for a in authors(meta)] == [  # type: ignore[union-attr]
        ("Doe", "Jane"),
        ("Smith", "John"),
    ]
    entry = bibtexparser.loads(to_bibtex("s", meta)).entries[0]
    assert entry["author"] == "Doe, Jane and Smith, John"
    [item] = json.loads(to_csl_json("s", meta))
    assert item["author"][0] == {"family": "Doe", "given": "Jane"}
    assert render_csl(to_csl_json("s", meta)).startswith("Doe, J. and Smith, J. (2020)")
    assert to_apa("s", meta).startswith("Doe, J., & Smith, J. (2020). A study.")
    assert to_chicago("s", meta).startswith("Doe, Jane and John Smith. A study.")


def test_publisher_place_is_split_only_when_it_looks_like_a_place() -> None:
    assert publisher_and_place(IDM35) == (IOM, "Geneva")
    assert publisher_and_place(Metadata(title="t", publisher=IOM)) == (IOM, None)
    assert publisher_and_place(Metadata(title="t", publisher="OECD, Paris")) == ("OECD", "Paris")
    assert publisher_and_place(Metadata(title="t", publisher="Geneva, the city of peace")) == (
        "Geneva, the city of peace",
        None,
    )


def test_apa_and_chicago_read_as_expected() -> None:
    assert to_apa("idm-35-2023", IDM35) == (
        "International Organization for Migration. (2023). Leveraging Human Mobility in Support "
        "of the Sustainable Development Goals (International Dialogue on Migration No. 35). "
        "https://publications.iom.int/books/idm-35\n"
    )
    assert to_apa("idm-35-2023", IDM35, PAGE).splitlines()[1] == (
        "(International Organization for Migration [IOM], 2023, p. 12)"
    )
    assert to_chicago("idm-35-2023", IDM35) == (
        "International Organization for Migration. Leveraging Human Mobility in Support of the "
        "Sustainable Development Goals. International Dialogue on Migration 35. Geneva: "
        "International Organization for Migration, 2023. https://publications.iom.int/books/idm-35.\n"
    )
    note = to_chicago("idm-35-2023", IDM35, SECTION)
    assert note.startswith("International Organization for Migration, Leveraging Human Mobility")
    assert "(Geneva: International Organization for Migration, 2023), section “4.3" in note


def test_minimal_metadata_still_formats_in_every_format() -> None:
    meta = Metadata(title="Notes")
    for fmt in FORMATS:
        assert "Notes" in export(fmt, "notes", meta)
    assert to_apa("notes", meta) == "Notes. (n.d.).\n"
    with pytest.raises(ValueError, match="allowed: bibtex, ris"):
        export("mla", "notes", meta)


@pytest.fixture(scope="module")
def client(real_corpus_fake_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(real_corpus_fake_index)) as c:
        yield c


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("bibtex", "application/x-bibtex"),
        ("ris", "application/x-research-info-systems"),
        ("csl-json", "application/vnd.citationstyles.csl+json"),
        ("apa", "text/plain"),
        ("chicago", "text/plain"),
    ],
)
def test_document_cite_endpoint(client: TestClient, fmt: str, media: str) -> None:
    r = client.get("/documents/idm-35-2023/cite", params={"format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert "idm-35-2023." in r.headers["content-disposition"]
    assert "Leveraging Human Mobility" in r.text


def test_passage_cite_endpoint_carries_the_section(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "remittances", "top_k": 10}).json()
    passage = next(p for p in body["passages"] if p["citation"]["section"])
    pid, section = passage["passage_id"], passage["citation"]["section"]
    r = client.get(f"/passages/{pid}/cite", params={"format": "ris"})
    assert r.status_code == 200
    assert rispy.loads(r.text)[0]["section"] == section
    entry = bibtexparser.loads(client.get(f"/passages/{pid}/cite").text).entries[0]
    assert entry["author"] == "{International Organization for Migration (IOM)}"
    assert section.split(" › ")[-1] in client.get(f"/passages/{pid}/cite?format=apa").text


def test_cite_errors(client: TestClient) -> None:
    r = client.get("/documents/idm-35-2023/cite", params={"format": "mla"})
    assert r.status_code == 422
    assert "bibtex, ris, csl-json, apa, chicago" in r.json()["detail"]
    assert client.get("/documents/nope/cite").status_code == 404
    assert client.get("/passages/nope/cite", params={"format": "apa"}).status_code == 404
    r = client.get("/passages/nope/cite", params={"format": "mla"})
    assert r.status_code == 422
