"""Ingest cost: a cold build of the corpus against the bare encode time of the same text,
each embedder's speed over those texts, a no-op re-ingest, and one added report."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.models import BASE_MODEL, BGE_MODEL, DEFAULT_MODEL
from core.settings import Settings
from index.build import BuildConfig, build_index, context_text
from index.searcher import Searcher
from ingest.chunk import sentence_spans
from ingest.embed import LazyEmbedder, make_embedder
from ingest.vectors import Embedder

SWEEP_BATCH_SIZES = (8, 16, 32, 64)
SWEEP_TEXTS = 800
# The embedders an index can be built with, each timed over the same texts.
EMBEDDERS = (DEFAULT_MODEL, BASE_MODEL, BGE_MODEL)


class _Clock:
    """Records when each build stage was first and last heard of."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter() - self.start
        self.first.setdefault(stage, now)
        self.last[stage] = now


def embedding_texts(index_dir: Path) -> tuple[int, list[str]]:
    """The passages of the published index and every text a build embeds for them: each
    passage as the retrievers see it, then its sentences (as index/build.py does)."""
    searcher = Searcher.open_current(index_dir)
    texts: list[str] = []
    passages = 0
    for info in searcher.documents():
        document = searcher._store.load_document(info.doc_id)
        assert document is not None
        for p in searcher.passages_of(info.doc_id):
            passages += 1
            texts.append(context_text(document, p))
            texts.extend(p.text[a:b] for a, b in sentence_spans(p.text, 0, len(p.text)))
    return passages, texts


def speed(embedder: Embedder, texts: list[str], passages: int, batch_size: int) -> dict[str, Any]:
    """One embedder over a build's texts: texts/s and seconds per 1,000 passages."""
    embedder.encode(["warm up"])
    started = time.perf_counter()
    embedder.encode(texts, batch_size=batch_size)
    took = time.perf_counter() - started
    return {
        "model": embedder.name,
        "batch_size": batch_size,
        "texts": len(texts),
        "passages": passages,
        "encode_s": took,
        "texts_per_s": len(texts) / took,
        "s_per_1000_passages": took / passages * 1000,
    }


def _sweep(model: Embedder, texts: list[str]) -> dict[str, float]:
    # The batch size IOMQA_EMBED_BATCH_SIZE defaults to, chosen from this sweep.
    sample = texts[:SWEEP_TEXTS]
    rates = {}
    for size in SWEEP_BATCH_SIZES:
        started = time.perf_counter()
        model.encode(sample, batch_size=size)
        rates[str(size)] = len(sample) / (time.perf_counter() - started)
    return rates


def _cold(config: BuildConfig, model: Embedder) -> dict[str, Any]:
    clock = _Clock()
    report = build_index(config, model, clock)
    cold = time.perf_counter() - clock.start
    embed_start = clock.first.get("embed", cold)
    embed_end = clock.last.get("embed", embed_start)
    pages = sum(d.pages for d in report.documents)
    return {
        "documents": len(report.documents),
        "passages": report.passages,
        "cold_s": cold,
        "parse_s": embed_start,
        "embed_s": embed_end - embed_start,
        "write_verify_publish_s": cold - embed_end,
        "pages_per_s": pages / cold if pages else None,
        "passages_per_s": report.passages / cold,
    }


def _embedders(
    settings: Settings, served: dict[str, Any], texts: list[str], passages: int
) -> list[dict[str, Any]]:
    """Each embedder's speed; the served one's is the bare encode already measured."""
    rows = []
    for name in EMBEDDERS:
        if name == served["model"]:
            rows.append(served)
        else:
            embedder = make_embedder(name, settings.model_source)
            rows.append(speed(embedder, texts, passages, served["batch_size"]))
    return rows


def _incremental(config: BuildConfig, model: Embedder, corpus: Path, added: Path) -> dict[str, Any]:
    started = time.perf_counter()
    noop = build_index(config, LazyEmbedder(model.name, lambda: model))
    noop_s = time.perf_counter() - started
    shutil.copy(added, corpus / added.name)
    started = time.perf_counter()
    report = build_index(config, model)
    return {
        "noop_s": noop_s,
        "noop_embedded": noop.embedded,
        "added_report": added.name,
        "added_s": time.perf_counter() - started,
        "added_passages": sum(d.passages for d in report.documents if d.source == added.name),
        "added_embedded": report.embedded,
    }


def run(settings: Settings, added_report: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="iomqa-bench-"))
    try:
        corpus = work / "corpus"
        shutil.copytree(settings.corpus_dir, corpus)
        config = BuildConfig.from_settings(
            settings.model_copy(update={"corpus_dir": corpus, "index_dir": work / "index"})
        )
        model = make_embedder(settings.model, settings.model_source)  # loaded before timing
        model.encode(["warm up"])
        results = _cold(config, model)
        passages, texts = embedding_texts(config.index_dir)
        served = speed(model, texts, passages, config.batch_size)
        bare = served["encode_s"]
        results |= {
            "texts_embedded": len(texts),
            "bare_encode_s": bare,
            "cold_over_bare_encode": results["cold_s"] / bare,
            "batch_size": config.batch_size,
            "texts_per_s_by_batch_size": _sweep(model, texts),
            "embedders": _embedders(settings, served, texts, passages),
        }
        return results | _incremental(config, model, corpus, added_report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
