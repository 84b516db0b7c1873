"""Passages and documents in SQLite; passage row i is FAISS vector i."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.records import Document, DocumentInfo, Heading, Metadata, PageSpan, Passage

STORE_NAME = "passages.sqlite3"

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    pages TEXT NOT NULL,
    headings TEXT NOT NULL,
    page_count INTEGER NOT NULL,
    passage_count INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    section TEXT NOT NULL,
    page INTEGER,
    page_label TEXT
);
CREATE UNIQUE INDEX passages_by_doc ON passages(doc_id, ordinal);
CREATE TABLE units (
    row INTEGER PRIMARY KEY,
    passage_row INTEGER NOT NULL REFERENCES passages(row),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX units_by_passage ON units(passage_row);
"""


def write(
    path: Path,
    documents: Sequence[Document],
    passages: Iterable[Passage],
    units: Iterable[tuple[int, int, int]],
) -> None:
    """Write a new store; iteration order defines row (= vector) numbers.

    `units` are the sentences of the passages as (passage_row, start, end), offsets
    within the passage text; unit row i is sentence vector i. Passages and units are
    read once, as they come, so a large corpus need not be held in memory.
    """
    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SCHEMA)
        conn.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?)", _passage_rows(passages, counts)
        )
        # After the passages: a document row records how many passages it has.
        conn.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
            [_document_row(d, counts.get(d.doc_id, 0)) for d in documents],
        )
        conn.executemany(
            "INSERT INTO units VALUES (?,?,?,?)",
            ((row, *unit) for row, unit in enumerate(units)),
        )
        conn.commit()
    finally:
        conn.close()


def _passage_rows(passages: Iterable[Passage], counts: dict[str, int]) -> Iterator[tuple[Any, ...]]:
    """Passage table rows, counting each document's passages into `counts` on the way."""
    for row, p in enumerate(passages):
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
        yield (
            row,
            p.passage_id,
            p.doc_id,
            p.ordinal,
            p.text,
            p.char_start,
            p.char_end,
            json.dumps(list(p.section), ensure_ascii=False),
            p.page,
            p.page_label,
        )


def _document_row(d: Document, passage_count: int) -> tuple[Any, ...]:
    return (
        d.doc_id,
        d.source,
        d.kind,
        d.content_hash,
        json.dumps(asdict(d.metadata), ensure_ascii=False),
        json.dumps([asdict(p) for p in d.pages], ensure_ascii=False),
        json.dumps([asdict(h) for h in d.headings], ensure_ascii=False),
        len(d.pages),
        passage_count,
        d.text,
    )


_PASSAGE_COLUMNS = (
    "passage_id, doc_id, ordinal, text, char_start, char_end, section, page, page_label"
)
_DOCUMENT_COLUMNS = "doc_id, source, kind, content_hash, metadata, page_count, passage_count"


def _passage(row: Sequence[Any]) -> Passage:
    return Passage(
        passage_id=row[0],
        doc_id=row[1],
        ordinal=row[2],
        text=row[3],
        char_start=row[4],
        char_end=row[5],
        section=tuple(json.loads(row[6])),
        page=row[7],
        page_label=row[8],
    )


def _document(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        doc_id=row[0],
        source=row[1],
        kind=row[2],
        content_hash=row[3],
        metadata=Metadata(**json.loads(row[4])),
        pages=row[5],
        passages=row[6],
    )


class Store:
    """Read-only access to a published store, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._documents = {d.doc_id: d for d in self._all_documents()}

    def close(self) -> None:
        self._conn.close()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _all_documents(self) -> list[DocumentInfo]:
        rows = self._query(f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY doc_id")
        return [_document(r) for r in rows]

    def count_passages(self) -> int:
        return int(self._query("SELECT count(*) FROM passages")[0][0])

    def documents(self) -> list[DocumentInfo]:
        return list(self._documents.values())

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self._documents.get(doc_id)

    def load_document(self, doc_id: str) -> Document | None:
        """The whole document record, as it was when the generation was built."""
        rows = self._query(
            "SELECT doc_id, source, content_hash, kind, metadata, text, pages, headings "
            "FROM documents WHERE doc_id = ?",
            (doc_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Document(
            doc_id=r[0],
            source=r[1],
            content_hash=r[2],
            kind=r[3],
            metadata=Metadata(**json.loads(r[4])),
            text=r[5],
            pages=tuple(PageSpan(**p) for p in json.loads(r[6])),
            headings=tuple(Heading(**h) for h in json.loads(r[7])),
        )

    def document_text(self, doc_id: str) -> str | None:
        rows = self._query("SELECT text FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def passages_by_rows(self, rows: Sequence[int]) -> dict[int, Passage]:
        rows = [int(r) for r in rows]
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self._query(
            f"SELECT row, {_PASSAGE_COLUMNS} FROM passages WHERE row IN ({marks})", rows
        )
        return {r[0]: _passage(r[1:]) for r in found}

    def unit_owners(self) -> npt.NDArray[np.int64]:
        """passage row of every unit, in unit order."""
        with self._lock:
            cursor = self._conn.execute("SELECT passage_row FROM units ORDER BY row")
            return np.fromiter((r[0] for r in cursor), dtype=np.int64)

    def units_of(self, passage_row: int) -> list[tuple[int, int, int]]:
        """(unit row, start, end) of a passage's sentences, in reading order."""
        rows = self._query(
            "SELECT row, start, end FROM units WHERE passage_row = ? ORDER BY row", (passage_row,)
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def row_of(self, passage_id: str) -> int | None:
        rows = self._query("SELECT row FROM passages WHERE passage_id = ?", (passage_id,))
        return int(rows[0][0]) if rows else None

    def rows_of_documents(self, doc_ids: Iterable[str]) -> list[int]:
        ids = list(doc_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(f"SELECT row FROM passages WHERE doc_id IN ({marks})", ids)
        return [int(r[0]) for r in rows]

    def passage(self, passage_id: str) -> Passage | None:
        rows = self._query(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE passage_id = ?", (passage_id,)
        )
        return _passage(rows[0]) if rows else None

    def passage_at(self, doc_id: str, ordinal: int) -> Passage | None:
        rows = self._query(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? AND ordinal = ?",
            (doc_id, ordinal),
        )
        return _passage(rows[0]) if rows else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self._query(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [_passage(r) for r in rows]
