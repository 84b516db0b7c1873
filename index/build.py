"""Corpus folder -> a new, verified index generation, published atomically.

The only writer of index generations.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index import dense, store
from index.generations import discard, ingest_lock, new_staging, prune, publish
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.manifest import MANIFEST_NAME, Manifest, sha256_path
from index.searcher import Searcher
from ingest.chunk import ChunkParams, sentence_spans
from ingest.corpus import assign_doc_ids, scan
from ingest.embed import Embedder
from ingest.pdf import PdfLimits
from ingest.pipeline import Processed, process
from iomqa.errors import DocumentError, IomqaError
from iomqa.records import Document, Passage

log = logging.getLogger(__name__)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class DocumentOutcome:
    doc_id: str
    source: str
    status: str  # "ok" or a failure word: encrypted, corrupt, no_text, unsupported, ...
    reason: str
    pages: int
    passages: int


@dataclass
class BuildReport:
    documents: list[DocumentOutcome] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    index_version: str | None = None
    published: bool = False


@dataclass(frozen=True)
class BuildConfig:
    corpus_dir: Path
    index_dir: Path
    chunking: ChunkParams = field(default_factory=ChunkParams)
    batch_size: int = 32
    keep_generations: int = 3
    pdf: PdfLimits = field(default_factory=PdfLimits)


def _version(manifest_seed: str, now: datetime) -> str:
    digest = hashlib.sha256(manifest_seed.encode()).hexdigest()[:8]
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{digest}"


def context_text(document: Document, passage: Passage) -> str:
    """What the retrievers see for a passage: where it comes from, then its text.

    Questions name documents by title, year or meeting ("the 2016 workshop"), which a
    passage rarely repeats; the prefix lets both retrievers match on it.
    """
    m = document.metadata
    head = m.title + (f" ({m.year})" if m.year else "")
    section = " › ".join(passage.section)
    return f"{head}\n{section}\n{passage.text}" if section else f"{head}\n{passage.text}"


def build_index(
    config: BuildConfig, embedder: Embedder, progress: Progress = _no_progress
) -> BuildReport:
    """Ingest the whole corpus into a new generation and publish it.

    Bad documents are reported with a status and reason and left out; nothing is
    published when no document could be indexed.
    """
    report = BuildReport()
    files = scan(config.corpus_dir)
    doc_ids = assign_doc_ids(files)
    documents: list[Document] = []
    passages: list[Passage] = []
    for i, file in enumerate(files):
        progress("parse", i, len(files))
        doc_id = doc_ids[file.source]
        try:
            processed: Processed = process(
                file, doc_id, config.chunking, config.pdf, lambda n, t: progress("pages", n, t)
            )
        except DocumentError as exc:
            log.warning("%s: %s (%s)", file.source, exc.status, exc.reason)
            report.documents.append(
                DocumentOutcome(doc_id, file.source, exc.status, exc.reason, 0, 0)
            )
            continue
        documents.append(processed.document)
        passages.extend(processed.passages)
        report.documents.append(
            DocumentOutcome(doc_id, file.source, "ok", "", processed.pages, len(processed.passages))
        )
    progress("parse", len(files), len(files))
    report.passages = len(passages)
    if not passages:
        return report

    by_id = {d.doc_id: d for d in documents}
    texts = [context_text(by_id[p.doc_id], p) for p in passages]
    units = [
        (row, start, end)
        for row, p in enumerate(passages)
        for start, end in sentence_spans(p.text, 0, len(p.text))
    ]
    unit_texts = [passages[row].text[start:end] for row, start, end in units]
    everything = _embed([*texts, *unit_texts], embedder, config.batch_size, progress)
    vectors, unit_vectors = everything[: len(texts)], everything[len(texts) :]
    report.embedded = len(texts)

    with ingest_lock(config.index_dir):
        staging = new_staging(config.index_dir)
        try:
            version = _write_generation(
                staging, config, embedder, documents, passages, texts, vectors, units, unit_vectors
            )
            Searcher.open(staging, embedder).close()  # verify before anyone can see it
            publish(config.index_dir, staging, version)
        except BaseException:
            discard(staging)
            raise
        prune(config.index_dir, config.keep_generations)
    report.index_version = version
    report.published = True
    return report


def _embed(texts: list[str], embedder: Embedder, batch_size: int, progress: Progress) -> np.ndarray:
    chunks: list[np.ndarray] = []
    step = batch_size * 4
    for start in range(0, len(texts), step):
        progress("embed", start, len(texts))
        chunks.append(embedder.encode(texts[start : start + step], batch_size=batch_size))
    progress("embed", len(texts), len(texts))
    if not chunks:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)


def _write_generation(
    staging: Path,
    config: BuildConfig,
    embedder: Embedder,
    documents: list[Document],
    passages: list[Passage],
    texts: list[str],
    vectors: np.ndarray,
    units: list[tuple[int, int, int]],
    unit_vectors: np.ndarray,
) -> str:
    store.write(staging / store.STORE_NAME, documents, passages, units)
    dense.save(dense.build(vectors), staging / dense.DENSE_NAME)
    dense.save(dense.build(unit_vectors), staging / dense.UNITS_NAME)
    KeywordIndex.build(texts).save(staging / KEYWORD_DIR)
    files = {
        path.relative_to(staging).as_posix(): sha256_path(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file()
    }
    corpus = {d.source: {"doc_id": d.doc_id, "sha256": d.content_hash} for d in documents}
    seed = "|".join(f"{s}:{c['sha256']}" for s, c in sorted(corpus.items())) + embedder.name
    now = datetime.now(UTC)
    version = _version(seed, now)
    manifest = Manifest(
        index_version=version,
        created_at=now.isoformat(timespec="seconds"),
        model=embedder.name,
        dimension=embedder.dimension,
        documents=len(documents),
        passages=len(passages),
        corpus=corpus,
        files=files,
        chunking={
            "max_chars": config.chunking.max_chars,
            "target_chars": config.chunking.target_chars,
            "min_chars": config.chunking.min_chars,
        },
    )
    (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return version


__all__ = ["BuildConfig", "BuildReport", "DocumentOutcome", "IomqaError", "build_index"]
