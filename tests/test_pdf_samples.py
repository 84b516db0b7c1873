"""Real-world PDFs (tests/pdf-samples, see its MANIFEST.tsv): each one ingests or fails
cleanly with a status and a reason, and every passage cites a page the file has."""

from __future__ import annotations

import csv
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.records import Passage
from core.settings import Settings
from index.build import BuildConfig, BuildReport, DocumentOutcome, build_index
from index.searcher import Searcher
from ingest.embed import HashingEmbedder
from ingest.pdf import PdfLimits
from tests.conftest import FAKE_MODEL, build

SAMPLES = Path(__file__).parent / "pdf-samples"

# Status each file must get, and a fragment its reason must contain, decided from the
# expected_behaviour column of MANIFEST.tsv. No passwords are configured here.
EXPECTED: dict[str, tuple[str, str]] = {
    "pdflatex-4-pages.pdf": ("ok", ""),
    "GeoTopo-komprimiert.pdf": ("ok", ""),
    "GeoBase_NHNC1_Data_Model_UML_EN.pdf": ("ok", ""),
    "google-doc-document.pdf": ("ok", ""),
    "multicolumn.pdf": ("ok", ""),
    "indirect-rotation.pdf": ("ok", ""),
    "minimal-document.pdf": ("ok", ""),
    "with-attachment.pdf": ("ok", ""),
    "pdflatex-outline.pdf": ("ok", ""),
    "outlines-with-invalid-destinations.pdf": ("ok", ""),
    "habibi.pdf": ("ok", ""),
    "multilang.pdf": ("ok", ""),
    "issue-914-xmp-data.pdf": ("ok", ""),
    "fontsampler.pdf": ("ok", ""),
    "unencrypted.pdf": ("ok", ""),
    "libreoffice-writer-password.pdf": ("encrypted", "set `password`"),
    "r2-user-password.pdf": ("encrypted", "set `password`"),
    "r2-owner-password.pdf": ("ok", ""),  # empty user password: opens as is
    "r4-aes-user-password.pdf": ("encrypted", "set `password`"),
    "r6-empty-password.pdf": ("ok", ""),
    "r6-both-passwords.pdf": ("encrypted", "set `password`"),
    "encrypted_doc_no_id.pdf": ("no_text", "no text layer"),
    "unreadablemetadata.pdf": ("corrupt", "Invalid object in /Pages"),
    "issue-297.pdf": ("ok", ""),  # broken xref, recovered
    "issue-301.pdf": ("ok", ""),  # slow garbage OCR: within the default time limit
    "derived-truncated-pdflatex-4-pages.pdf": ("corrupt", "truncated"),
    "derived-empty.pdf": ("corrupt", "empty file"),
    "derived-html-not-a-pdf.pdf": ("corrupt", "not a PDF"),
    "derived-crazyones-broken-xref.pdf": ("corrupt", "Trailer cannot be read"),
    "derived-flate-bomb-200MB.pdf": ("too_large", "decompression bomb"),
    "imagemagick-CCITTFaxDecode.pdf": ("no_text", "no text layer"),
    "cmyk-image.pdf": ("no_text", "no text layer"),
    "Seige_of_Vicksburg_Sample_OCR.pdf": ("ok", ""),
    "imagemagick-images.pdf": ("ok", ""),  # two of six pages empty: skipped
    "derived-5000-pages-small.pdf": ("ok", ""),
    "habibi-rotated.pdf": ("ok", ""),
    "AutoCad_Diagram.pdf": ("ok", ""),
    "annotated_pdf.pdf": ("ok", ""),
    "libreoffice-form.pdf": ("ok", ""),
    "SF424_page2.pdf": ("ok", ""),
}


@dataclass(frozen=True)
class Sample:
    file: str
    pages: int | None  # pages_if_known
    expected_behaviour: str


def read_manifest() -> list[Sample]:
    with (SAMPLES / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [line for line in handle if not line.startswith("#")]
    samples = []
    for row in csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
        pages = row["pages_if_known"].split(" ", 1)[0]
        samples.append(
            Sample(row["file"], int(pages) if pages else None, row["expected_behaviour"])
        )
    return samples


MANIFEST = read_manifest()


@dataclass
class Ingested:
    report: BuildReport
    outcomes: dict[str, DocumentOutcome]
    passages: dict[str, list[Passage]]  # source -> passages in the index
    texts: dict[str, str]  # source -> canonical text


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    """One ingest of the whole folder, shared by every case below."""
    root = tmp_path_factory.mktemp("pdf-samples")
    corpus = root / "corpus"
    corpus.mkdir()
    for sample in MANIFEST:
        shutil.copy(SAMPLES / sample.file, corpus / sample.file)
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", model=FAKE_MODEL)
    report = build(settings)
    searcher = Searcher.open_current(settings.index_dir)
    try:
        by_doc = {d.doc_id: d.source for d in searcher.documents()}
        yield Ingested(
            report,
            {d.source: d for d in report.documents},
            {source: searcher.passages_of(doc_id) for doc_id, source in by_doc.items()},
            {source: searcher.document_text(doc_id) or "" for doc_id, source in by_doc.items()},
        )
    finally:
        searcher.close()


def test_the_manifest_and_the_expectations_cover_the_same_files() -> None:
    on_disk = {p.name for p in SAMPLES.glob("*.pdf")}
    assert {s.file for s in MANIFEST} == on_disk == set(EXPECTED)
    assert (SAMPLES / "LICENSE-pypdf").is_file() and (SAMPLES / "LICENSE-sample-files").is_file()


def test_the_batch_is_published_despite_the_bad_files(ingested: Ingested) -> None:
    assert ingested.report.published
    assert len(ingested.report.documents) == len(MANIFEST)


@pytest.mark.parametrize("sample", MANIFEST, ids=lambda s: s.file)
def test_each_sample_gets_its_status_and_cites_real_pages(
    ingested: Ingested, sample: Sample
) -> None:
    status, reason_part = EXPECTED[sample.file]
    outcome = ingested.outcomes[sample.file]
    assert outcome.status == status, f"{outcome.reason!r}; expected: {sample.expected_behaviour}"
    assert reason_part in outcome.reason
    if status != "ok":
        assert "\n" not in outcome.reason and outcome.reason[0].isalnum()
        assert sample.file not in ingested.passages  # nothing half-indexed
        return
    assert sample.pages is not None and outcome.pages == sample.pages
    passages = ingested.passages[sample.file]
    assert passages and outcome.passages == len(passages)
    text = ingested.texts[sample.file]
    for passage in passages:
        assert passage.page is not None and 1 <= passage.page <= sample.pages
        assert passage.page_label
        assert passage.text.strip() == passage.text and passage.text
        assert text[passage.char_start : passage.char_end] == passage.text


def passages_text(ingested: Ingested, source: str) -> str:
    return "\n".join(p.text for p in ingested.passages[source])


def test_text_fidelity_of_selected_samples(ingested: Ingested) -> None:
    # Ligatures normalised: the title page prints "Auﬂage" with U+FB02.
    geotopo = passages_text(ingested, "GeoTopo-komprimiert.pdf")
    assert "Auflage" in geotopo and "\ufb02" not in geotopo
    assert "حَبيبي" in passages_text(ingested, "habibi.pdf")
    unencrypted = passages_text(ingested, "unencrypted.pdf")
    assert unencrypted.split() == ["pdf", "encryption", "test", "password:", "asdfzxcv"]
    assert passages_text(ingested, "r6-empty-password.pdf") == passages_text(
        ingested, "unencrypted.pdf"
    )
    multilang = passages_text(ingested, "multilang.pdf")
    for word in (
        "Hello World",
        "مرحبا بالعالم",
        "Привет, мир",
        "你好世界",
        "สวัสดีชาวโลก",
        "こんにちは世界",
    ):
        assert word in multilang, word
    # Printed page labels (/PageLabels): roman front matter, then arabic from 1.
    labels = {(p.page, p.page_label) for p in ingested.passages["GeoTopo-komprimiert.pdf"]}
    assert {(3, "iii"), (11, "8")} <= labels
    # Every page of the rotated file, whatever its /Rotate.
    assert {p.page for p in ingested.passages["habibi-rotated.pdf"]} == {1, 2, 3, 4}
    # Empty pages are skipped, the others cited.
    assert {p.page for p in ingested.passages["imagemagick-images.pdf"]} == {1, 2, 3, 6}


def test_running_headers_and_page_numbers_are_removed(ingested: Ingested) -> None:
    for source in ("pdflatex-4-pages.pdf", "multicolumn.pdf"):
        lines = {line for p in ingested.passages[source] for line in p.text.split("\n")}
        assert not lines & {"1", "2", "3", "4"}, source
    geobase = passages_text(ingested, "GeoBase_NHNC1_Data_Model_UML_EN.pdf")
    assert "National Hydro Network, Data Model – Edition 1.0 2004-06" not in geobase
    assert "GeoBase® 7" not in geobase
    geotopo = passages_text(ingested, "GeoTopo-komprimiert.pdf")
    assert "8 1.2. METRISCHE RÄUME" not in geotopo
    big = ingested.passages["derived-5000-pages-small.pdf"]
    assert len(big) == 5000 and all("Synthetic policy report" not in p.text for p in big)
    assert big[1233].page == 1234 and big[1233].text == (
        "Section 25: funding allocation and review schedule, item 1234."
    )


def test_two_column_pages_read_column_by_column(ingested: Ingested) -> None:
    text = ingested.texts["multicolumn.pdf"]
    # The left column's paragraph ends before the right column's first one starts.
    first = text.index("Duis eget orci sit amet orci dignissim rutrum.")
    assert first < text.index("Nam dui ligula, fringilla a, euismod sodales")


def test_duplicate_content_stays_two_documents(ingested: Ingested) -> None:
    attachment = ingested.outcomes["with-attachment.pdf"]
    minimal = ingested.outcomes["minimal-document.pdf"]
    assert attachment.doc_id != minimal.doc_id
    assert passages_text(ingested, "with-attachment.pdf") == passages_text(
        ingested, "minimal-document.pdf"
    )
    ids = {
        p.passage_id
        for s in ("with-attachment.pdf", "minimal-document.pdf")
        for p in ingested.passages[s]
    }
    assert len(ids) == 2


# --- limits and passwords, each on a small corpus -----------------------------------


def corpus_of(folder: Path, *names: str, manifest: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SAMPLES / name, folder / name)
    if manifest:
        (folder / "corpus.toml").write_text(manifest, encoding="utf-8")
    return folder


def ingest(settings: Settings, limits: PdfLimits | None = None) -> dict[str, DocumentOutcome]:
    config = BuildConfig(
        corpus_dir=settings.corpus_dir, index_dir=settings.index_dir, pdf=limits or PdfLimits()
    )
    report = build_index(config, HashingEmbedder(64))
    return {d.source: d for d in report.documents}


def test_passwords_from_corpus_toml_open_user_password_files(settings: Settings) -> None:
    corpus_of(
        settings.corpus_dir,
        "r2-user-password.pdf",
        "r4-aes-user-password.pdf",
        "r6-both-passwords.pdf",
        "libreoffice-writer-password.pdf",
        "unencrypted.pdf",
        manifest="""
["r2-user-password.pdf"]
password = "asdfzxcv"
["r4-aes-user-password.pdf"]
password = "asdfzxcv"
["r6-both-passwords.pdf"]
password = "bar"  # the owner password works too
["libreoffice-writer-password.pdf"]
password = "wrong"
""",
    )
    outcomes = ingest(settings)
    for name in ("r2-user-password.pdf", "r4-aes-user-password.pdf", "r6-both-passwords.pdf"):
        assert (outcomes[name].status, outcomes[name].passages) == ("ok", 1), name
    wrong = outcomes["libreoffice-writer-password.pdf"]
    assert wrong.status == "encrypted" and "password in corpus.toml is wrong" in wrong.reason
    searcher = Searcher.open_current(settings.index_dir)
    try:
        aes = searcher.passages_of(outcomes["r4-aes-user-password.pdf"].doc_id)
        assert aes[0].text.split() == ["pdf", "encryption", "test", "password:", "asdfzxcv"]
    finally:
        searcher.close()


def slow_pdf(path: Path, operations: int = 300_000) -> None:
    """One page of many tiny text operations: small on disk, seconds to extract."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (slow) Tj ET\n" * operations)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def test_a_pdf_over_the_time_limit_is_stopped_and_the_rest_indexed(settings: Settings) -> None:
    corpus_of(settings.corpus_dir, "minimal-document.pdf")
    slow_pdf(settings.corpus_dir / "slow.pdf")
    outcomes = ingest(settings, PdfLimits(timeout_s=2.0))
    slow = outcomes["slow.pdf"]
    assert slow.status == "timeout" and "IOMQA_PDF_TIMEOUT_S" in slow.reason
    assert outcomes["minimal-document.pdf"].status == "ok"


def test_a_pdf_over_the_page_limit_is_too_large(settings: Settings) -> None:
    corpus_of(settings.corpus_dir, "pdflatex-4-pages.pdf", "minimal-document.pdf")
    outcomes = ingest(settings, PdfLimits(max_pages=3))
    big = outcomes["pdflatex-4-pages.pdf"]
    assert big.status == "too_large" and "4 pages" in big.reason
    assert "IOMQA_PDF_MAX_PAGES" in big.reason
    assert outcomes["minimal-document.pdf"].status == "ok"


def test_the_memory_cap_turns_a_decompression_bomb_into_too_large(settings: Settings) -> None:
    corpus_of(settings.corpus_dir, "derived-flate-bomb-200MB.pdf", "minimal-document.pdf")
    outcomes = ingest(settings, PdfLimits(memory_mb=128))
    bomb = outcomes["derived-flate-bomb-200MB.pdf"]
    assert bomb.status == "too_large" and "IOMQA_PDF_MEMORY_MB" in bomb.reason
    assert outcomes["minimal-document.pdf"].status == "ok"
