"""Corpus file -> LoadedDocument (raw pages and metadata). The only module that reads documents."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from ingest.corpus import SUPPORTED_SUFFIXES, CorpusFile
from iomqa.errors import DocumentError
from iomqa.records import LoadedDocument, Metadata, RawPage

log = logging.getLogger(__name__)

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-9]\d)(?!\d)")
_COPYRIGHT_YEAR = re.compile(r"©\s*(?:[A-Z]{2,}\s*)?(19[5-9]\d|20[0-9]\d)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(file: CorpusFile, doc_id: str) -> LoadedDocument:
    kind = SUPPORTED_SUFFIXES.get(file.path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise DocumentError(
            "unsupported", f"file type {file.path.suffix or '(none)'!r}; allowed: {allowed}"
        )
    content_hash = sha256_file(file.path)
    info: dict[str, Any] = {}
    if kind == "pdf":
        pages, info = _load_pdf(file.path, file.entry.password)
    else:
        pages = (_load_text(file.path),)
    if not any(page.text.strip() for page in pages):
        what = "no text layer on any page (a scan without OCR?)" if kind == "pdf" else "no text"
        raise DocumentError("no_text", what)
    metadata = _metadata(file, info, pages)
    return LoadedDocument(doc_id, file.source, content_hash, kind, metadata, pages)


def _load_text(path: Path) -> RawPage:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError("unsupported", f"not UTF-8 text (byte {exc.start})") from exc
    return RawPage(None, None, text)


def _load_pdf(path: Path, password: str | None) -> tuple[tuple[RawPage, ...], dict[str, Any]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, EmptyFileError, FileNotDecryptedError, PyPdfError

    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise DocumentError("corrupt", "empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise DocumentError("corrupt", f"not a PDF: file starts with {head[:16]!r}")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(password or ""):
            hint = "wrong password in corpus.toml" if password else "set `password` in corpus.toml"
            raise DocumentError("encrypted", f"encrypted PDF: {hint}")
        labels = _page_labels(reader)
        pages = tuple(
            RawPage(i + 1, labels[i] if i < len(labels) else str(i + 1), page.extract_text() or "")
            for i, page in enumerate(reader.pages)
        )
        info = _pdf_info(reader)
    except DocumentError:
        raise
    except DependencyError as exc:
        raise DocumentError("missing_dependency", f"pypdf needs an extra package: {exc}") from exc
    except FileNotDecryptedError as exc:
        raise DocumentError("encrypted", f"encrypted PDF: {exc}") from exc
    except EmptyFileError as exc:
        raise DocumentError("corrupt", "empty file (0 bytes)") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise DocumentError("corrupt", f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    return pages, info


def _page_labels(reader: Any) -> list[str]:
    try:
        return list(reader.page_labels)
    except Exception as exc:  # labels are a nicety; a broken /PageLabels tree must not fail ingest
        log.warning("page labels unreadable, using page numbers: %s", exc)
        return []


def _pdf_info(reader: Any) -> dict[str, Any]:
    try:
        meta = reader.metadata
    except Exception as exc:  # unreadable metadata is common in damaged files
        log.warning("PDF metadata unreadable: %s", exc)
        return {}
    if not meta:
        return {}
    info: dict[str, Any] = {}
    for key, name in (("/Title", "title"), ("/Author", "author"), ("/CreationDate", "date")):
        value = meta.get(key)
        if value:
            info[name] = str(value).strip()
    return info


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
