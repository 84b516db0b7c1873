"""The corpus folder: which files to ingest and their bibliographic metadata."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.errors import CorpusError
from core.records import Metadata

MANIFEST_NAME = "corpus.toml"
SUPPORTED_SUFFIXES = {".pdf": "pdf", ".txt": "text", ".md": "markdown"}
_METADATA_KEYS = {f.name for f in fields(Metadata)}
_ENTRY_KEYS = _METADATA_KEYS | {"doc_id", "password", "original_file"}


@dataclass(frozen=True)
class CorpusEntry:
    """A corpus manifest entry; every field may be missing."""

    doc_id: str | None = None
    password: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    source: str  # relative to the corpus folder, POSIX separators
    entry: CorpusEntry


def read_manifest(corpus_dir: Path) -> dict[str, CorpusEntry]:
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML: {exc}") from exc
    entries: dict[str, CorpusEntry] = {}
    for source, table in data.items():
        if not isinstance(table, dict):
            raise CorpusError(f"{path}: [{source!r}] must be a table of metadata keys")
        unknown = set(table) - _ENTRY_KEYS
        if unknown:
            raise CorpusError(
                f"{path}: [{source!r}] has unknown keys {sorted(unknown)}; "
                f"allowed: {sorted(_ENTRY_KEYS)}"
            )
        entries[source] = CorpusEntry(
            doc_id=table.get("doc_id"),
            password=table.get("password"),
            metadata={k: v for k, v in table.items() if k in _METADATA_KEYS},
        )
    return entries


def scan(corpus_dir: Path) -> list[CorpusFile]:
    """Every candidate document below corpus_dir, in a stable order.

    Files of unsupported types are listed too, so that the ingest summary can say why
    they were not indexed instead of ignoring them silently.
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    manifest = read_manifest(corpus_dir)
    found: list[CorpusFile] = []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.as_posix() == MANIFEST_NAME:
            continue
        found.append(CorpusFile(path, rel.as_posix(), manifest.get(rel.as_posix(), CorpusEntry())))
    return found


_SLUG = re.compile(r"[^a-z0-9]+")


def slug_doc_id(source: str) -> str:
    """A readable doc id from a relative path ("reports/IDM 36.pdf" -> "reports-idm-36")."""
    stem = source.rsplit(".", 1)[0].lower()
    return _SLUG.sub("-", stem).strip("-") or "document"


def assign_doc_ids(files: list[CorpusFile]) -> dict[str, str]:
    """source -> doc_id, unique; manifest ids win, clashing derived ids get the suffix."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for f in files:
        if f.entry.doc_id:
            if f.entry.doc_id in taken:
                raise CorpusError(f"doc_id {f.entry.doc_id!r} is used twice in {MANIFEST_NAME}")
            ids[f.source] = f.entry.doc_id
            taken.add(f.entry.doc_id)
    for f in files:
        if f.source in ids:
            continue
        candidate = slug_doc_id(f.source)
        if candidate in taken:
            candidate = slug_doc_id(f.source.replace(".", "-"))
        n = 2
        base = candidate
        while candidate in taken:
            candidate = f"{base}-{n}"
            n += 1
        ids[f.source] = candidate
        taken.add(candidate)
    return ids


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ ()-]{0,150}")


def safe_file_name(filename: str) -> str | None:
    """The name an uploaded file may take in the corpus folder, or None if unusable.

    Only a plain file name is accepted: no folders, no "..", nothing hidden, and never
    the manifest itself.
    """
    if "/" in filename or "\\" in filename or "\0" in filename:
        return None
    if not _SAFE_NAME.fullmatch(filename) or ".." in filename or filename == MANIFEST_NAME:
        return None
    return filename


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # JSON string escapes are valid TOML basic-string escapes.
    import json

    return json.dumps(str(value), ensure_ascii=False)


def set_manifest_entry(corpus_dir: Path, source: str, entry: dict[str, object]) -> None:
    """Add or replace one file's table in corpus.toml, keeping everything else as written."""
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise CorpusError(f"unknown keys {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}")
    read_manifest(corpus_dir)  # a manifest already broken is named as such, not edited
    path = corpus_dir / MANIFEST_NAME
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"[{_toml_value(source)}]"
    lines = text.splitlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped == header
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [header, *(f"{k} = {_toml_value(v)}" for k, v in entry.items() if v is not None)]
    new_text = "\n".join([*kept, "", *block]).lstrip("\n") + "\n"
    tomllib.loads(new_text)  # never write a manifest that does not parse
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)
