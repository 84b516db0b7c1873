"""PDF ingest: physical pages and printed page labels reach the citation."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from core.settings import Settings
from service.app import create_app
from tests.conftest import build

PAGE_TEXTS = [
    "Foreword. This volume collects the proceedings of the regional dialogue.",
    "Chapter one describes how municipalities welcomed newcomers in twelve cities.",
    "The zanzibar clove cooperative employed exactly 417 returning migrants in 2021.",
    "Chapter three summarises the recommendations for national statistics offices.",
]


def make_pdf(path: Path, title: str = "Regional Dialogue Proceedings") -> None:
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author("Test Organisation")
    pdf.set_font("Helvetica", size=12)
    for text in PAGE_TEXTS:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    raw = path.with_suffix(".raw.pdf")
    pdf.output(str(raw))
    # Printed labels: two front-matter pages in roman numerals, then arabic from 1.
    writer = PdfWriter(clone_from=str(raw))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, 3, style="/D", start=1)
    writer.write(str(path))
    raw.unlink()


def test_generated_pdf_has_the_labels_it_should(tmp_path: Path) -> None:
    make_pdf(tmp_path / "doc.pdf")
    assert list(PdfReader(tmp_path / "doc.pdf").page_labels) == ["i", "ii", "1", "2"]


@pytest.fixture
def pdf_index(settings: Settings) -> Settings:
    settings.corpus_dir.mkdir(parents=True)
    make_pdf(settings.corpus_dir / "proceedings.pdf")
    report = build(settings)
    assert [d.status for d in report.documents] == ["ok"]
    assert report.documents[0].pages == 4
    return settings


def test_sentence_on_page_three_is_cited_with_page_and_label(pdf_index: Settings) -> None:
    with TestClient(create_app(pdf_index)) as client:
        body = client.post(
            "/ask", json={"question": "zanzibar clove cooperative returning migrants", "top_k": 1}
        ).json()
        top = body["passages"][0]
        assert "417 returning migrants" in top["text"]
        citation = top["citation"]
        assert (citation["page"], citation["page_label"]) == (3, "1")
        assert citation["formatted"].endswith("p. 1 (PDF p. 3).")
        text = client.get(f"/documents/{citation['doc_id']}/text").text
        assert text[citation["char_start"] : citation["char_end"]] == top["text"]


def test_pdf_metadata_comes_from_the_info_dictionary(pdf_index: Settings) -> None:
    with TestClient(create_app(pdf_index)) as client:
        doc = client.get("/documents/proceedings").json()
    assert doc["title"] == "Regional Dialogue Proceedings"
    assert doc["author"] == "Test Organisation"
    assert doc["kind"] == "pdf" and doc["pages"] == 4


def test_every_pdf_passage_cites_an_existing_page(pdf_index: Settings) -> None:
    with TestClient(create_app(pdf_index)) as client:
        body = client.get("/ask", params={"q": "chapter migrants", "k": 50}).json()
    pages = {p["citation"]["page"] for p in body["passages"]}
    assert pages <= {1, 2, 3, 4} and len(pages) == 4


def test_passage_page_and_citations_give_the_pdf_page(pdf_index: Settings) -> None:
    with TestClient(create_app(pdf_index)) as client:
        top = client.get("/ask", params={"q": "zanzibar clove cooperative", "k": 1}).json()
        pid = top["passages"][0]["passage_id"]
        page = client.get(f"/p/{pid}")
        assert page.status_code == 200
        assert '<dd id="page">1 (page 3 of the PDF)</dd>' in page.text
        assert "\n  pages = {1}\n" in client.get(f"/passages/{pid}/cite?format=bibtex").text
        assert "SP  - 1\n" in client.get(f"/passages/{pid}/cite?format=ris").text
        apa = client.get(f"/passages/{pid}/cite?format=apa").text
        assert apa.endswith("\n(Test Organisation, n.d., p. 1)\n")
