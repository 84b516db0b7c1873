"""The text version: a fingerprint of the code that turns a file into canonical text and passages.

An index records the text version it was built with; an index built by another version
has every document parsed again instead of carrying its passages forward. Derived from
the source code itself, so that no change to it can forget a hand-bumped number: a
forgotten bump would silently keep passages, offsets and headings the current code no
longer produces. Any edit of these sources re-parses the corpus once, comments
included; re-parsing costs little next to citing stale text.

Installed packages ship their .py files, both as an editable install and as a wheel,
so `inspect.getsource` reads the same text wherever the package lives.
"""

from __future__ import annotations

import hashlib
import inspect
import unicodedata
from collections.abc import Callable, Mapping
from types import ModuleType

import pypdf

from ingest import chunk, clean, furniture, heading_rules, load, pdf, sections

# Each module decides what text an unchanged file yields, or where its passages fall.
TEXT_SHAPING_MODULES: tuple[ModuleType, ...] = (
    load,  # picks the reader by file type and decodes text files
    pdf,  # extracts each PDF page's text and page label
    furniture,  # removes running headers, footers and page numbers from PDF pages
    clean,  # Unicode normalisation, dehyphenation, markup and table-row cleaning
    heading_rules,  # which lines are headings: section paths and passage boundaries
    sections,  # assembles the canonical text, its page spans and its headings
    chunk,  # passage boundaries, passage ids and the section each passage cites
)

# Libraries whose output is part of the text: pypdf extracts the PDF text (an upgrade
# can change spacing and reading order), and Python's Unicode database decides NFKC.
LIBRARY_VERSIONS: Mapping[str, str] = {
    "pypdf": pypdf.__version__,
    "unicodedata": unicodedata.unidata_version,
}

# Well inside JSON's exactly representable integers; the manifest stores it as a number.
_HEX_DIGITS = 12


def source_text(code: ModuleType | Callable[..., object]) -> str:
    """The source of a module or function, as installed."""
    try:
        return inspect.getsource(code)
    except (OSError, TypeError) as exc:
        name = getattr(code, "__qualname__", getattr(code, "__name__", repr(code)))
        raise RuntimeError(
            f"no source installed for {name}: the text version is derived from it"
        ) from exc


def derive_text_version(parts: Mapping[str, str]) -> int:
    """A short number that changes when any named part changes, whatever their order."""
    digest = hashlib.sha256()
    for name, text in sorted(parts.items()):
        for field in (name, text.replace("\r\n", "\n")):
            data = field.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big"))  # no two splits hash alike
            digest.update(data)
    return int(digest.hexdigest()[:_HEX_DIGITS], 16)


def text_shaping_parts(*stages: Callable[..., object]) -> dict[str, str]:
    """Sources of the text-shaping modules and of `stages` (the code composing them), with
    the versions of the libraries whose output becomes text."""
    parts = {module.__name__: source_text(module) for module in TEXT_SHAPING_MODULES}
    parts.update({f"{f.__module__}.{f.__qualname__}": source_text(f) for f in stages})
    parts.update({f"library {name}": version for name, version in LIBRARY_VERSIONS.items()})
    return parts


def text_version(*stages: Callable[..., object]) -> int:
    """The text version of the installed code, `stages` included."""
    return derive_text_version(text_shaping_parts(*stages))
