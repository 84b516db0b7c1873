"""Corpus file -> LoadedDocument (raw pages and metadata). Reads documents; PDFs via ingest.pdf."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from core.errors import DocumentError
from core.records import LoadedDocument, Metadata, RawPage
from ingest.corpus import SUPPORTED_SUFFIXES, CorpusFile
from ingest.pdf import PageProgress, PdfLimits, read_pdf

log = logging.getLogger(__name__)

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-9]\d)(?!\d)")
_COPYRIGHT_YEAR = re.compile(r"©\s*(?:[A-Z]{2,}\s*)?(19[5-9]\d|20[0-9]\d)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(
    file: CorpusFile,
    doc_id: str,
    limits: PdfLimits | None = None,
    on_pages: PageProgress | None = None,
) -> LoadedDocument:
    kind = SUPPORTED_SUFFIXES.get(file.path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise DocumentError(
            "unsupported", f"file type {file.path.suffix or '(none)'!r}; allowed: {allowed}"
        )
    content_hash = sha256_file(file.path)
    info: dict[str, Any] = {}
    if kind == "pdf":
        pdf = read_pdf(file.path, file.entry.password, limits or PdfLimits(), on_pages)
        pages, info = pdf.pages, dict(pdf.info)
    else:
        pages = (_load_text(file.path),)
    if not any(page.text.strip() for page in pages):
        what = (
            "no text layer on any page (a scan without OCR?): run OCR on it first"
            if kind == "pdf"
            else "no text"
        )
        raise DocumentError("no_text", what)
    empty = [page.number for page in pages if page.number and not page.text.strip()]
    if empty:
        shown = ", ".join(map(str, empty[:10])) + (", …" if len(empty) > 10 else "")
        log.info(
            "%s: %d of %d pages without text, skipped (p. %s)",
            file.source,
            len(empty),
            len(pages),
            shown,
        )
    metadata = _metadata(file, info, pages)
    return LoadedDocument(doc_id, file.source, content_hash, kind, metadata, pages)


def _load_text(path: Path) -> RawPage:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError("unsupported", f"not UTF-8 text (byte {exc.start})") from exc
    return RawPage(None, None, text)


def _metadata(file: CorpusFile, info: dict[str, Any], pages: tuple[RawPage, ...]) -> Metadata:
    """Manifest metadata first; then the PDF info dictionary, the first page, the file name."""
    given: dict[str, Any] = dict(file.entry.metadata or {})
    if not given.get("title"):
        given["title"] = info.get("title") or _first_line(pages) or Path(file.source).stem
    if not given.get("author") and info.get("author"):
        given["author"] = info["author"]
    if given.get("year") is None:
        given["year"] = _derive_year(file.source, info, pages)
    return Metadata(**given)


def _first_line(pages: tuple[RawPage, ...]) -> str | None:
    for page in pages:
        for line in page.text.splitlines():
            cleaned = re.sub(r"[#*_`]+", "", line).strip()
            if len(cleaned) >= 3:
                return cleaned[:200]
    return None


def _derive_year(source: str, info: dict[str, Any], pages: tuple[RawPage, ...]) -> int | None:
    for candidate in (_YEAR.search(Path(source).stem), _YEAR.search(info.get("date", ""))):
        if candidate:
            return int(candidate.group(1))
    head = "\n".join(p.text for p in pages[:3])[:20000]
    copyright_year = _COPYRIGHT_YEAR.search(head)
    return int(copyright_year.group(1)) if copyright_year else None
