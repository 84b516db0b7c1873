"""PDF file -> raw pages, parsed in a child process with a time limit and a memory cap.

pypdf is pure Python and believes what a file says: a damaged, hostile or merely huge
PDF can take minutes or gigabytes. Each PDF is therefore read by a fresh interpreter
(`python -m ingest.pdf`, 0.1 to 0.2 s to start) that never loaded torch or the index.
The child caps its address space (RLIMIT_AS) and its CPU time, is killed when the
wall-clock limit passes, and streams its pages back in batches, so neither side holds
the document twice. A fresh interpreter rather than multiprocessing's spawn or
forkserver, because those re-import the caller's main module in every child (a
quarter of a second for the `iomqa` script). Every way of failing ends as a
DocumentError whose status says what happened and whose reason says what to do.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

from core.errors import DocumentError
from core.records import RawPage

log = logging.getLogger(__name__)

PageProgress = Callable[[int, int], None]  # (pages done, pages in the file)
Message = tuple[Any, ...]

_BATCH_PAGES = 200  # pages per message from the child
_WARNINGS_KEPT = 20
_HEAD_BYTES = 1024  # where a PDF header may start, as readers allow
_PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost; beyond it the document gets a status, the batch goes on."""

    timeout_s: float = 120.0  # wall clock for opening and extracting one file
    memory_mb: int = 1024  # address space of the parsing process
    max_pages: int = 10_000

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.memory_mb <= 0 or self.max_pages <= 0:
            raise ValueError("PDF limits must be positive")


@dataclass(frozen=True)
class PdfText:
    pages: tuple[RawPage, ...]
    info: dict[str, str]  # title, author, date from the info dictionary, when readable


def read_pdf(
    path: Path,
    password: str | None,
    limits: PdfLimits,
    on_pages: PageProgress | None = None,
) -> PdfText:
    """Pages of one PDF (physical number, printed label, text), or a DocumentError."""
    check_header(path)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "ingest.pdf"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,  # Ctrl-C reaches the parent, which ends the child
    )
    assert child.stdin is not None and child.stdout is not None
    receiver = Connection(os.dup(child.stdout.fileno()), writable=False)
    try:
        request = (str(path), password, limits.max_pages, limits.memory_mb, limits.timeout_s)
        try:  # the password travels on stdin, never on a command line
            child.stdin.write(pickle.dumps(request))
            child.stdin.close()
        except BrokenPipeError:
            pass  # the child is gone already; _collect reports how it ended
        return _collect(receiver, child, path, limits, on_pages)
    except DocumentError:
        raise  # the child answered, or was stopped already
    except BaseException:
        child.kill()  # Ctrl-C, or a failing progress callback: do not wait for the parse
        raise
    finally:
        receiver.close()
        child.stdout.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def check_header(path: Path) -> None:
    """Refuse what is not a PDF at all before starting a process for it."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise DocumentError("corrupt", "empty file (0 bytes): replace it with the real PDF")
    if b"%PDF-" not in head:
        raise DocumentError(
            "corrupt",
            f"not a PDF: the file starts with {head[:16]!r} (a web page saved as .pdf?); "
            "replace it with the real PDF",
        )


def _collect(
    receiver: Connection,
    child: subprocess.Popen[bytes],
    path: Path,
    limits: PdfLimits,
    on_pages: PageProgress | None,
) -> PdfText:
    deadline = time.monotonic() + limits.timeout_s
    pages: list[RawPage] = []
    total = 0
    info: dict[str, str] = {}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not receiver.poll(remaining):
            child.kill()
            raise DocumentError(
                "timeout",
                f"parsing took longer than {limits.timeout_s:g} s "
                f"({len(pages)} of {total or '?'} pages read); "
                "raise IOMQA_PDF_TIMEOUT_S or split the file",
            )
        try:
            message: Message = receiver.recv()
        except EOFError:
            try:
                code = child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
            raise DocumentError("corrupt", _died(code, limits)) from None
        kind = message[0]
        if kind == "open":
            total = message[1]
            if on_pages:
                on_pages(0, total)
        elif kind == "pages":
            pages.extend(RawPage(number, label, text) for number, label, text in message[1])
            if on_pages:
                on_pages(len(pages), total)
        elif kind == "info":
            info = message[1]
        elif kind == "fail":
            raise DocumentError(message[1], message[2])
        elif kind == "done":
            peak_kb, notes, pypdf_log = message[1], message[2], message[3]
            for note in notes:
                log.warning("%s: %s", path.name, note)
            for line in pypdf_log:
                log.info("%s: pypdf: %s", path.name, line)
            log.debug("%s: %d pages, parser peak RSS %d MB", path.name, total, peak_kb // 1024)
            return PdfText(tuple(pages), info)


def _died(exitcode: int | None, limits: PdfLimits) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return (
        f"the PDF parser stopped without a result ({how}): the file is probably damaged; "
        f"if it opens elsewhere, raise IOMQA_PDF_MEMORY_MB (now {limits.memory_mb})"
    )


# --- in the child process -------------------------------------------------------------


class _Collector(logging.Handler):
    """Warnings ("rebuild xref", "fontTools is required"), kept for the parent to log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < _WARNINGS_KEPT:
            self.lines.append(record.getMessage())


def _main() -> None:
    """`python -m ingest.pdf`: one request on stdin, messages on the original stdout."""
    conn = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print must not corrupt the messages
    path, password, max_pages, memory_mb, timeout_s = pickle.load(sys.stdin.buffer)
    _cap(memory_mb, timeout_s)
    answer(Path(path), password, max_pages, memory_mb, conn.send)
    conn.close()


def answer(
    path: Path,
    password: str | None,
    max_pages: int,
    memory_mb: int,
    send: Callable[[Message], None],
) -> None:
    """What the child does once capped: send the pages, then "done" or "fail"."""
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)  # nothing reaches the console from here
    outcome: Message
    try:
        notes = extract(path, password, max_pages, send)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        outcome = ("done", peak_kb, notes, collector.lines)
    except BaseException as exc:
        outcome = ("fail", *failure(exc, memory_mb))
    finally:
        root.removeHandler(collector)
    # Answer outside the handler: a failed allocation's memory is released by now.
    send(outcome)


def _cap(memory_mb: int, timeout_s: float) -> None:
    """Memory cap; and a CPU-time cap, so the child ends even if its parent died."""
    for which, value in (
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_CPU, math.ceil(timeout_s) + 10),
    ):
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))


def extract(
    path: Path, password: str | None, max_pages: int, send: Callable[[Message], None]
) -> list[str]:
    """Open, decrypt and extract page by page, sending batches; returns warnings.

    Runs in the child; tests call it directly. A page that fails on its own is skipped
    with a warning; failures that concern the whole file (missing crypto dependency,
    decompression limit, memory) end the document.
    """
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(password or ""):
        hint = (
            "the password in corpus.toml is wrong"
            if password
            else "set `password` for this file in corpus.toml"
        )
        raise DocumentError("encrypted", f"encrypted PDF: {hint}")
    total = len(reader.pages)
    if total > max_pages:
        raise DocumentError(
            "too_large",
            f"{total} pages, more than the limit of {max_pages}; "
            "raise IOMQA_PDF_MAX_PAGES or split the file",
        )
    send(("open", total))
    labels = _page_labels(reader)
    notes: list[str] = []
    errors: list[str] = []
    batch: list[tuple[int, str, str]] = []
    for index in range(total):
        number = index + 1
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as exc:
            if _ends_document(exc):
                raise
            errors.append(f"page {number}: {type(exc).__name__}: {exc}")  # skip this page
            text = ""
        label = labels[index] if index < len(labels) else str(number)
        batch.append((number, label, text))
        if len(batch) >= _BATCH_PAGES:
            send(("pages", batch))
            batch = []
    if batch:
        send(("pages", batch))
    if errors and len(errors) == total:
        raise DocumentError("corrupt", f"no page could be read ({errors[0]}); re-export the PDF")
    if errors:
        notes.append(f"{len(errors)} of {total} pages unreadable, skipped ({errors[0]})")
    send(("info", _pdf_info(reader)))
    return notes


def _ends_document(exc: BaseException) -> bool:
    """Failures about the file as a whole, not one damaged page."""
    whole = (DependencyError, LimitReachedError, FileNotDecryptedError)
    return isinstance(exc, whole) or _caused_by(exc, MemoryError)


def failure(exc: BaseException, memory_mb: int) -> tuple[str, str]:
    """Status and reason for an exception that ended a PDF's parse."""
    if isinstance(exc, DocumentError):
        return exc.status, exc.reason
    detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if isinstance(exc, DependencyError):
        return (
            "missing_dependency",
            f"pypdf needs an extra package for this file ({exc}); "
            "install it with: pip install 'pypdf[crypto]'",
        )
    if isinstance(exc, FileNotDecryptedError):
        return "encrypted", f"encrypted PDF ({exc}): set `password` for this file in corpus.toml"
    if isinstance(exc, LimitReachedError):
        if "decompress" in str(exc).lower():
            return (
                "too_large",
                "a compressed stream inflates beyond pypdf's safety limit, likely a "
                f"decompression bomb ({str(exc).rstrip('.')}); not indexed",
            )
        return "corrupt", f"damaged PDF ({detail}); re-export it"
    if _caused_by(exc, MemoryError):  # pypdf re-raises some as PdfReadError
        return (
            "too_large",
            f"parsing needed more than {memory_mb} MB of memory; "
            "raise IOMQA_PDF_MEMORY_MB or split the file",
        )
    if isinstance(exc, RecursionError):
        return "corrupt", "damaged PDF (objects nested too deeply); re-export it"
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "corrupt", "parsing was interrupted"
    return "corrupt", f"damaged or truncated PDF ({detail}); re-download or re-export it"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _page_labels(reader: PdfReader) -> list[str]:
    try:
        return list(reader.page_labels)
    except Exception as exc:  # labels are a nicety; a broken /PageLabels tree must not fail
        log.warning("page labels unreadable, using page numbers: %s", exc)
        return []


def _pdf_info(reader: PdfReader) -> dict[str, str]:
    try:
        meta = reader.metadata
    except Exception as exc:  # unreadable metadata is common in damaged files
        log.warning("PDF metadata unreadable: %s", exc)
        return {}
    if not meta:
        return {}
    info: dict[str, str] = {}
    for key, name in (("/Title", "title"), ("/Author", "author"), ("/CreationDate", "date")):
        try:
            value = meta.get(key)
        except Exception:  # an unresolvable entry: skip it
            continue
        if value:
            info[name] = str(value).strip()
    return info


if __name__ == "__main__":
    _main()
