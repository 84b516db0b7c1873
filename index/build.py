"""Corpus folder -> a new, verified index generation, published atomically.

The only writer of index generations. Builds are incremental: documents whose file and
metadata are unchanged since the served generation are copied from it without being
parsed, and every vector comes through the embedding cache.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import IomqaError
from core.records import Document, Passage
from core.settings import Settings
from index import dense, store
from index.embedcache import CACHE_NAME, EmbeddingCache
from index.generations import (
    GENERATIONS,
    clean_staging,
    current_version,
    discard,
    ingest_lock,
    new_staging,
    prune,
    publish,
)
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.manifest import MANIFEST_NAME, Manifest, read_manifest
from index.plan import Action, BuildPlan, ScannedFile, Step, fingerprint, plan_build
from index.searcher import Searcher
from index.vectorfile import Rows, VectorFile
from ingest.chunk import ChunkParams, section_headings, sentence_spans
from ingest.corpus import CorpusFile, assign_doc_ids, scan
from ingest.embed import LazyEmbedder
from ingest.executor import LOCAL, Executor, ParseFailure, ParseJob
from ingest.load import sha256_file
from ingest.pdf import PdfLimits
from ingest.pipeline import TEXT_VERSION
from ingest.text_version import derive_text_version, source_text
from ingest.vectors import Embedder

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Recall@10 against exact search that build-time tuning of nprobe aims for; quantised
# codes may level off below it, and tuning stops there.
TARGET_RECALL = 0.95
SCRATCH_NAME = "vectors.scratch"


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
    up_to_date: bool = False  # nothing changed: the served generation stays
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON form `iomqa ingest --json` prints and ingest jobs report."""
        return {
            "documents": [asdict(d) for d in self.documents],
            "passages": self.passages,
            "embedded": self.embedded,
            "index_version": self.index_version,
            "published": self.published,
            "up_to_date": self.up_to_date,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class BuildConfig:
    corpus_dir: Path
    index_dir: Path
    chunking: ChunkParams = field(default_factory=ChunkParams)
    batch_size: int = 8
    keep_generations: int = 3
    pdf: PdfLimits = field(default_factory=PdfLimits)
    rebuild: bool = False  # ignore the served generation and parse everything again
    ann_min_passages: int = 50_000  # from this size on the dense indexes are approximate

    @classmethod
    def from_settings(cls, settings: Settings, *, rebuild: bool = False) -> BuildConfig:
        return cls(
            corpus_dir=settings.corpus_dir,
            index_dir=settings.index_dir,
            chunking=ChunkParams(settings.max_chars, settings.target_chars, settings.min_chars),
            batch_size=settings.embed_batch_size,
            keep_generations=settings.keep_generations,
            rebuild=rebuild,
            ann_min_passages=settings.ann_min_passages,
            pdf=PdfLimits(settings.pdf_timeout_s, settings.pdf_memory_mb, settings.pdf_max_pages),
        )


def context_text(document: Document, passage: Passage) -> str:
    """What the retrievers see for a passage: where it comes from, then its text.

    Questions name documents by title, year or meeting ("the 2016 workshop"), which a
    passage rarely repeats; the prefix lets both retrievers match on it.
    """
    m = document.metadata
    head = m.title + (f" ({m.year})" if m.year else "")
    # Whole headings: a citation cuts them at 120 characters, but "Q5. In the 2019 SDG
    # Summit declaration, Member States outlined ten priority areas …" is a question's
    # best clue to the answers below it.
    section = " › ".join(h.title for h in section_headings(document, passage))
    return f"{head}\n{section}\n{passage.text}" if section else f"{head}\n{passage.text}"


@dataclass
class _Previous:
    manifest: Manifest
    store: store.Store


def _previous(config: BuildConfig, embedder: Embedder) -> _Previous | None:
    """The served generation, if an incremental build may start from it."""
    version = current_version(config.index_dir)
    if config.rebuild or version is None:
        return None
    generation = config.index_dir / GENERATIONS / version
    try:
        manifest = read_manifest(generation)
        if manifest.model != embedder.name or manifest.chunking != _chunking(config):
            log.warning(
                "model, passage sizes or text processing changed since %s: rebuilding everything",
                version,
            )
            return None
        return _Previous(manifest, store.Store(generation / store.STORE_NAME))
    except (IomqaError, OSError, ValueError) as exc:
        log.warning("served generation %s unusable (%s): rebuilding everything", version, exc)
        return None


CONTEXT_VERSION = derive_text_version({"context_text": source_text(context_text)})


def _chunking(config: BuildConfig) -> dict[str, int]:
    return {
        "max_chars": config.chunking.max_chars,
        "target_chars": config.chunking.target_chars,
        "min_chars": config.chunking.min_chars,
        "text_version": TEXT_VERSION,
        # What the retrievers read is embedded too: a change to it must re-embed.
        "context_version": CONTEXT_VERSION,
    }


def build_index(
    config: BuildConfig,
    embedder: Embedder,
    progress: Progress = _no_progress,
    *,
    wait: bool = False,
    executor: Executor = LOCAL,
) -> BuildReport:
    """Bring the index up to date with the corpus folder.

    Bad documents are reported with a status and reason and left out; nothing is
    published when no document could be indexed, and nothing new when nothing changed.
    `executor` parses and embeds (here, or on a cluster); everything else runs here.
    """
    with ingest_lock(config.index_dir, wait=wait):
        clean_staging(config.index_dir)
        previous = _previous(config, embedder)
        if previous is not None and isinstance(embedder, LazyEmbedder):
            embedder.assume_dimension(previous.manifest.dimension)
        try:
            return _build(config, _Work(embedder, executor, progress), previous)
        finally:
            if previous is not None:
                previous.store.close()


@dataclass(frozen=True)
class _Work:
    """Who does a build's work and whom it tells."""

    embedder: Embedder
    executor: Executor
    progress: Progress


def _build(config: BuildConfig, work: _Work, previous: _Previous | None) -> BuildReport:
    """Carry out the plan: collect documents, then embed, write and publish them."""
    plan = plan_build(
        _scanned(scan(config.corpus_dir)),
        previous.manifest.corpus if previous else {},
        previous.manifest.failed if previous else {},
    )
    report = BuildReport(
        added=list(plan.added),
        changed=list(plan.changed),
        removed=list(plan.removed),
        unchanged=list(plan.unchanged),
    )
    collected = _collect_documents(plan, config, previous, work)
    report.documents = collected.outcomes
    report.passages = len(collected.passages)
    # A retried failure (a limit raised, a package installed) that now parses changes what
    # is served although no file changed.
    if (
        previous is not None
        and not plan.changes_corpus
        and collected.failed == previous.manifest.failed
    ):
        report.up_to_date = True
        report.index_version = previous.manifest.index_version
        return report
    if not collected.passages:
        return report
    report.index_version, report.embedded = _publish_generation(config, work, collected)
    report.published = True
    return report


def _scanned(files: Sequence[CorpusFile]) -> list[ScannedFile]:
    """The corpus files with what the plan compares: their ids, contents and entries."""
    doc_ids = assign_doc_ids(list(files))
    scanned = []
    for file in files:
        content_hash = sha256_file(file.path)
        scanned.append(
            ScannedFile(file, doc_ids[file.source], content_hash, fingerprint(file, content_hash))
        )
    return scanned


@dataclass
class _Collected:
    """What the new generation is written from, filled in corpus order."""

    documents: list[Document] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    corpus: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: list[DocumentOutcome] = field(default_factory=list)

    def add(
        self, file: ScannedFile, document: Document, passages: list[Passage], pages: int
    ) -> None:
        self.documents.append(document)
        self.passages.extend(passages)
        self.corpus[file.source] = {
            "doc_id": file.doc_id,
            "sha256": file.content_hash,
            "fingerprint": file.fingerprint,
        }
        self.outcomes.append(
            DocumentOutcome(file.doc_id, file.source, "ok", "", pages, len(passages))
        )

    def fail(self, file: ScannedFile, entry: dict[str, str]) -> None:
        self.failed[file.source] = entry
        self.outcomes.append(
            DocumentOutcome(file.doc_id, file.source, entry["status"], entry["reason"], 0, 0)
        )


def _collect_documents(
    plan: BuildPlan, config: BuildConfig, previous: _Previous | None, work: _Work
) -> _Collected:
    """Every file's document and passages, reused or parsed, or its failure.

    Reused documents are read first; the files to parse go to the executor in one list,
    so a cluster can parse them side by side. Results are kept in corpus order.
    """
    total = len(plan.steps)
    reused: dict[int, tuple[Document, list[Passage], int]] = {}
    to_parse: list[int] = []
    for i, step in enumerate(plan.steps):
        if step.kept_failure is not None:  # Action.KEEP_FAILURE
            continue
        found = _reuse(previous, step) if previous is not None else None
        if found is None:
            to_parse.append(i)
        else:
            reused[i] = found
    work.progress("parse", len(reused), total)
    jobs = [ParseJob(plan.steps[i].scanned.file, plan.steps[i].scanned.doc_id) for i in to_parse]
    parsed = work.executor.parse(
        jobs, config.chunking, config.pdf, lambda n, t: work.progress("pages", n, t)
    )
    results: dict[int, tuple[Document, list[Passage], int] | ParseFailure] = dict(reused)
    for n, (i, result) in enumerate(zip(to_parse, parsed, strict=True), start=1):
        results[i] = (
            result
            if isinstance(result, ParseFailure)
            else (result.document, result.passages, result.pages)
        )
        work.progress("parse", len(reused) + n, total)
    return _in_corpus_order(plan, results)


def _in_corpus_order(
    plan: BuildPlan, results: dict[int, tuple[Document, list[Passage], int] | ParseFailure]
) -> _Collected:
    """The collected documents and failures, in the plan's (corpus) order."""
    collected = _Collected()
    for i, step in enumerate(plan.steps):
        file = step.scanned
        if step.kept_failure is not None:
            collected.fail(file, dict(step.kept_failure))
            continue
        result = results[i]
        if isinstance(result, ParseFailure):
            log.warning("%s: %s (%s)", file.source, result.status, result.reason)
            collected.fail(
                file,
                {"fingerprint": file.fingerprint, "status": result.status, "reason": result.reason},
            )
        else:
            collected.add(file, *result)
    return collected


def _reuse(previous: _Previous, step: Step) -> tuple[Document, list[Passage], int] | None:
    """The document as the served generation holds it, if the plan reuses it and the
    generation holds it (one it should hold but does not is parsed again)."""
    if step.action is not Action.REUSE:
        return None
    document = previous.store.load_document(step.scanned.doc_id)
    if document is None:
        return None
    return document, previous.store.passages_of(step.scanned.doc_id), len(document.pages)


def _publish_generation(config: BuildConfig, work: _Work, collected: _Collected) -> tuple[str, int]:
    """Embed, write, verify and publish a generation; its version and the passages embedded.

    The generation is staged and published whole, or discarded.
    """
    texts, units, unit_texts = _embedding_inputs(collected)
    staging = new_staging(config.index_dir)
    try:
        everything, embedded = _embed(staging, config, work, texts, unit_texts)
        embedder = work.embedder
        version = write_generation(
            staging,
            GenerationInput(
                model=embedder.name,
                dimension=embedder.dimension,
                documents=collected.documents,
                passages=collected.passages,
                texts=texts,
                vectors=everything.window(0, len(texts)),
                units=units,
                unit_vectors=everything.window(len(texts), len(everything)),
                corpus=collected.corpus,
                failed=collected.failed,
                chunking=_chunking(config),
            ),
            config.ann_min_passages,
        )
        publish_verified(config.index_dir, staging, version, embedder)
    except BaseException:
        discard(staging)
        raise
    prune(config.index_dir, config.keep_generations)
    return version, embedded


def _embedding_inputs(
    collected: _Collected,
) -> tuple[list[str], list[tuple[int, int, int]], list[str]]:
    """What the retrievers read for each passage, its sentences as (passage row, start,
    end), and their texts."""
    by_id = {d.doc_id: d for d in collected.documents}
    passages = collected.passages
    texts = [context_text(by_id[p.doc_id], p) for p in passages]
    units = [
        (row, start, end)
        for row, p in enumerate(passages)
        for start, end in sentence_spans(p.text, 0, len(p.text))
    ]
    unit_texts = [passages[row].text[start:end] for row, start, end in units]
    return texts, units, unit_texts


def _embed(
    staging: Path,
    config: BuildConfig,
    work: _Work,
    texts: list[str],
    unit_texts: list[str],
) -> tuple[VectorFile, int]:
    """Passage then sentence vectors, through the embedding cache, and how many passage
    vectors had to be computed (sentences ride along)."""
    # Vectors stream to a file in the staging folder, removed before publishing.
    everything = VectorFile.create(
        staging / SCRATCH_NAME, len(texts) + len(unit_texts), work.embedder.dimension
    )
    cache = EmbeddingCache(config.index_dir / CACHE_NAME)
    try:
        computed = cache.encode_into(
            [*texts, *unit_texts],
            everything,
            work.embedder,
            config.batch_size,
            lambda done, total: work.progress("embed", done, total),
            work.executor,
        )
    finally:
        cache.close()
    return everything, int(computed[: len(texts)].sum())


def publish_verified(index_dir: Path, staging: Path, version: str, embedder: Embedder) -> None:
    """Open the staged generation exactly as the service would, then publish it.

    A generation that fails any check raises IndexCorrupt and is never published.
    """
    Searcher.open(staging, embedder).close()
    publish(index_dir, staging, version)


def _version(seed: str, now: datetime) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{digest}"


@dataclass(frozen=True)
class GenerationInput:
    """Everything one generation is written from. Passages, texts and units are read
    once, in row order; vectors may be vector files on disk."""

    model: str
    dimension: int
    documents: Sequence[Document]
    passages: Iterable[Passage]
    texts: Iterable[str]
    vectors: Rows
    units: Iterable[tuple[int, int, int]]
    unit_vectors: Rows
    corpus: dict[str, dict[str, str]]
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    chunking: dict[str, int] = field(default_factory=dict)


def write_generation(staging: Path, given: GenerationInput, ann_min_passages: int) -> str:
    """Write store, dense and keyword indexes and the manifest; return the version.

    From `ann_min_passages` passages on, the dense indexes are approximate with nprobe
    tuned on the data (index/dense.py), and BM25 is built from a stream of texts.
    """
    approximate = len(given.vectors) >= ann_min_passages
    store.write(staging / store.STORE_NAME, given.documents, given.passages, given.units)
    specs = _write_dense(staging, given, approximate)
    keyword = (
        KeywordIndex.build_streaming(given.texts)
        if approximate
        else KeywordIndex.build(list(given.texts))
    )
    keyword.save(staging / KEYWORD_DIR)
    (staging / SCRATCH_NAME).unlink(missing_ok=True)
    manifest = _manifest(staging, given, specs)
    (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest.index_version


def _write_dense(
    staging: Path, given: GenerationInput, approximate: bool
) -> dict[str, dict[str, Any]]:
    """Passage and sentence vector indexes, one at a time; their specs for the manifest."""
    specs = {}
    for name, file, vectors in (
        ("passages", dense.DENSE_NAME, given.vectors),
        ("sentences", dense.UNITS_NAME, given.unit_vectors),
    ):
        spec = dense.plan(len(vectors), approximate=approximate)
        index = dense.build(vectors, spec)
        specs[name] = dense.tune(index, vectors, spec, TARGET_RECALL).to_dict()
        dense.save(index, staging / file)
        del index
    return specs


def _manifest(staging: Path, given: GenerationInput, specs: dict[str, dict[str, Any]]) -> Manifest:
    """The manifest of a staged generation whose artifacts are all written."""
    files = {
        path.relative_to(staging).as_posix(): sha256_file(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file()
    }
    seed = (
        "|".join(f"{s}:{c['fingerprint']}" for s, c in sorted(given.corpus.items())) + given.model
    )
    now = datetime.now(UTC)
    return Manifest(
        index_version=_version(seed, now),
        created_at=now.isoformat(timespec="seconds"),
        model=given.model,
        dimension=given.dimension,
        documents=len(given.documents),
        passages=len(given.vectors),
        corpus=given.corpus,
        files=files,
        chunking=given.chunking,
        failed=given.failed,
        dense=specs,
    )


__all__ = [
    "BuildConfig",
    "BuildReport",
    "DocumentOutcome",
    "GenerationInput",
    "build_index",
    "publish_verified",
    "write_generation",
]
