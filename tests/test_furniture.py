"""Running headers, footers and page numbers: removed by repetition, real content kept."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from core.records import RawPage
from core.settings import Settings
from index.searcher import Searcher
from ingest.furniture import furniture_lines, strip_furniture
from tests.conftest import build

HEADER = "International Dialogue on Migration No. 36"
LOOKALIKE = "REGIONAL CONSULTATIVE PROCESSES ON MIGRATION"  # like a header, but once
BODY = [
    "Member States discussed labour mobility corridors and skills partnerships.",
    "Remittance costs fell to 6.2 per cent on average in the reporting year.",
    "Consultative processes met four times; their chairs reported to the plenary.",
    "Cities described how they welcome newcomers and organise local services.",
    "The workshop closed with recommendations on data and return migration.",
]
MIDDLE = 2


def report_pages(first_printed: int = 1, label_offset: int = 0) -> list[RawPage]:
    """Pages with a running header, a body and a printed page number at the foot.

    The middle page opens a chapter: no running header, and its first line is a
    one-off heading that looks like one.
    """
    pages = []
    for i, body in enumerate(BODY):
        number = i + 1
        printed = number - 1 + first_printed
        head = LOOKALIKE if i == MIDDLE else HEADER
        text = f"{head}\n{body}\n\n{printed}\n"
        pages.append(RawPage(number, str(number + label_offset), text))
    return pages


def expected() -> list[list[str]]:
    return [[LOOKALIKE, body] if i == MIDDLE else [body] for i, body in enumerate(BODY)]


def texts(pages: list[RawPage]) -> list[list[str]]:
    return [[line for line in p.text.split("\n") if line.strip()] for p in pages]


def test_headers_and_page_numbers_go_and_the_one_off_header_lookalike_stays() -> None:
    stripped = texts(strip_furniture(report_pages()))
    # The middle page's first line looks like a header but occurs once: it is content.
    assert stripped[MIDDLE][0] == LOOKALIKE
    assert stripped == expected()


def test_printed_numbers_shifted_from_physical_ones_are_still_page_numbers() -> None:
    # Front matter unnumbered: physical page 1 prints "7", and so on.
    stripped = texts(strip_furniture(report_pages(first_printed=7)))
    assert stripped == expected()


def test_roman_page_labels_are_page_numbers() -> None:
    pages = [
        RawPage(n, label, f"Preface body {label.upper()} is unique.\nText {n * 11}.\n{label}")
        for n, label in enumerate(["i", "ii", "iii", "iv"], start=1)
    ]
    stripped = texts(strip_furniture(pages))
    assert [lines[-1] for lines in stripped] == ["Text 11.", "Text 22.", "Text 33.", "Text 44."]


def test_numbered_chapter_headers_repeat_on_two_pages_only() -> None:
    # "8 1.2. METRIC SPACES" on printed page 8, "9 1.2. METRIC SPACES" on 9, then chapter 1.3.
    pages = [
        RawPage(11, "8", "8 1.2. METRIC SPACES\nA metric space is a set with a distance."),
        RawPage(12, "9", "9 1.2. METRIC SPACES\nEvery metric induces a topology."),
        RawPage(13, "10", "10 1.3. CONTINUITY\nContinuous maps preserve limits."),
    ]
    stripped = texts(strip_furniture(pages))
    assert [lines[0] for lines in stripped] == [
        "A metric space is a set with a distance.",
        "Every metric induces a topology.",
        "10 1.3. CONTINUITY",  # once only: kept
    ]


def test_lines_with_the_page_number_inside_repeat_like_headers() -> None:
    pages = [
        RawPage(n, str(n), f"Synthetic report, page {n} of 40.\nSection {1 + n // 10}: item {n}.")
        for n in range(1, 41)
    ]
    stripped = texts(strip_furniture(pages))
    assert [lines for lines in stripped[:2]] == [["Section 1: item 1."], ["Section 1: item 2."]]


def test_identical_pages_are_content_not_furniture() -> None:
    pages = [RawPage(n, str(n), "habibi\n") for n in range(1, 5)]
    assert furniture_lines(pages)  # every line repeats ...
    assert strip_furniture(pages) == pages  # ... but removing them would empty the document


def test_nothing_repeats_in_short_or_text_documents() -> None:
    single = [RawPage(1, "1", f"{HEADER}\nBody.\n1")]
    assert strip_furniture(single) == single
    text_source = [RawPage(None, None, "# Title\n\nBody")]
    assert strip_furniture(text_source) == text_source


def test_repeated_lines_in_the_middle_of_pages_are_kept() -> None:
    pages = [
        RawPage(
            n,
            str(n),
            f"Opening {n * 7}.\nSecond {n * 5}.\nThird {n * 3}.\nRecommendation: share data.\n"
            f"Fifth {n * 13}.\nSixth {n * 17}.\nSeventh {n * 19}.",
        )
        for n in range(1, 6)
    ]
    assert strip_furniture(pages) == pages


def fpdf_report(path: Path) -> None:
    class Report(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, LOOKALIKE if self.page_no() == MIDDLE + 1 else HEADER)
            self.ln(12)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()}", align="C")

    pdf = Report()
    pdf.set_font("Helvetica", size=12)
    for body in BODY:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, body)
    pdf.output(str(path))


def test_a_generated_report_is_indexed_without_its_furniture(settings: Settings) -> None:
    settings.corpus_dir.mkdir(parents=True)
    fpdf_report(settings.corpus_dir / "report.pdf")
    report = build(settings)
    assert [(d.status, d.pages) for d in report.documents] == [("ok", 5)]
    searcher = Searcher.open_current(settings.index_dir)
    try:
        passages = searcher.passages_of(report.documents[0].doc_id)
    finally:
        searcher.close()
    assert [(p.page, p.text.split("\n")) for p in passages] == list(enumerate(expected(), start=1))
