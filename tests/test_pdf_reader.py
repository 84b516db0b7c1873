"""ingest.pdf: how each way a PDF can fail becomes a status, in the child and around it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pypdf import PageObject
from pypdf.errors import (
    DependencyError,
    FileNotDecryptedError,
    LimitReachedError,
    PdfReadError,
)

import ingest.pdf
from core.errors import DocumentError
from ingest.pdf import Message, PdfLimits, answer, failure, read_pdf

SAMPLES = Path(__file__).parent / "pdf-samples"


def run_in_process(name: str, password: str | None = None) -> list[Message]:
    """What the child would send, computed in this process (so monkeypatches apply)."""
    sent: list[Message] = []
    answer(SAMPLES / name, password, 10_000, 1024, sent.append)
    return sent


def no_crypto(*args: Any, **kwargs: Any) -> NoReturn:
    raise DependencyError("cryptography>=3.1 is required for AES algorithm")


def test_aes_without_cryptography_is_a_missing_dependency_not_an_empty_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pypdf decrypts, then every page's extraction raises DependencyError.
    monkeypatch.setattr(PageObject, "extract_text", no_crypto)
    last = run_in_process("r4-aes-user-password.pdf", "asdfzxcv")[-1]
    assert last[:2] == ("fail", "missing_dependency")
    assert "pypdf[crypto]" in last[2] and "AES" in last[2]


def test_aes256_without_cryptography_fails_at_open_as_a_missing_dependency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest.pdf, "PdfReader", no_crypto)
    assert run_in_process("r6-empty-password.pdf")[-1][:2] == ("fail", "missing_dependency")


def test_a_damaged_page_is_skipped_and_the_others_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    original = PageObject.extract_text

    def second_page_broken(page: PageObject, *args: Any, **kwargs: Any) -> str:
        if page.page_number == 1:
            raise PdfReadError("Unexpected end of stream")
        return original(page, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", second_page_broken)
    sent = run_in_process("pdflatex-4-pages.pdf")
    pages = [page for kind, *rest in sent if kind == "pages" for page in rest[0]]
    assert [(number, bool(text)) for number, _, text in pages] == [
        (1, True),
        (2, False),
        (3, True),
        (4, True),
    ]
    done = sent[-1]
    assert done[0] == "done" and "1 of 4 pages unreadable" in done[2][0]


@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        (DependencyError("cryptography is required"), "missing_dependency", "pypdf[crypto]"),
        (FileNotDecryptedError("File has not been decrypted"), "encrypted", "corpus.toml"),
        (LimitReachedError("Limit reached while decompressing."), "too_large", "bomb"),
        (LimitReachedError("Maximum Root object recovery limit reached."), "corrupt", "re-export"),
        (MemoryError(), "too_large", "IOMQA_PDF_MEMORY_MB"),
        (RecursionError(), "corrupt", "nested"),
        (PdfReadError("Invalid object in /Pages"), "corrupt", "Invalid object in /Pages"),
        (KeyError("/Root"), "corrupt", "re-download"),
        (DocumentError("encrypted", "encrypted PDF: why"), "encrypted", "why"),
    ],
)
def test_failures_map_to_statuses(exc: BaseException, status: str, words: str) -> None:
    got_status, reason = failure(exc, 256)
    assert got_status == status and words in reason


def test_memory_errors_that_pypdf_rewraps_are_still_too_large() -> None:
    try:
        try:
            raise MemoryError
        except MemoryError as inner:
            raise PdfReadError("Error reading PDF file.") from inner
    except PdfReadError as outer:
        assert failure(outer, 256) == (
            "too_large",
            "parsing needed more than 256 MB of memory; raise IOMQA_PDF_MEMORY_MB or split "
            "the file",
        )


def test_pages_stream_back_with_progress() -> None:
    seen: list[tuple[int, int]] = []
    pdf = read_pdf(
        SAMPLES / "pdflatex-4-pages.pdf",
        None,
        PdfLimits(),
        lambda done, total: seen.append((done, total)),
    )
    assert [p.number for p in pdf.pages] == [1, 2, 3, 4]
    assert seen == [(0, 4), (4, 4)]


def test_a_child_that_dies_is_reported_as_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # "python" that exits at once
    with pytest.raises(DocumentError) as caught:
        read_pdf(SAMPLES / "minimal-document.pdf", None, PdfLimits())
    assert caught.value.status == "corrupt" and "exit code 1" in caught.value.reason
