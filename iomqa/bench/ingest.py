"""Ingest cost: a cold build of the corpus against the bare encode time of the same text,
a no-op re-ingest, and one added report."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.settings import Settings
from index.build import BuildConfig, build_index, context_text
from index.searcher import Searcher
from ingest.chunk import sentence_spans
from ingest.embed import LazyEmbedder, make_embedder

SWEEP_BATCH_SIZES = (8, 16, 32, 64)
SWEEP_TEXTS = 800


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

        clock = _Clock()
        report = build_index(config, model, clock)
        cold = time.perf_counter() - clock.start
        embed_start = clock.first.get("embed", cold)
        embed_end = clock.last.get("embed", embed_start)

        searcher = Searcher.open_current(config.index_dir)
        texts: list[str] = []
        for info in searcher.documents():
            document = searcher._store.load_document(info.doc_id)
            assert document is not None
            for p in searcher.passages_of(info.doc_id):
                texts.append(context_text(document, p))
                texts.extend(p.text[a:b] for a, b in sentence_spans(p.text, 0, len(p.text)))
        started = time.perf_counter()
        model.encode(texts, batch_size=config.batch_size)
        bare = time.perf_counter() - started
        # The batch size IOMQA_EMBED_BATCH_SIZE defaults to, chosen from this sweep.
        sample = texts[:SWEEP_TEXTS]
        sweep = {}
        for size in SWEEP_BATCH_SIZES:
            started = time.perf_counter()
            model.encode(sample, batch_size=size)
            sweep[str(size)] = len(sample) / (time.perf_counter() - started)
        pages = sum(d.pages for d in report.documents)

        started = time.perf_counter()
        noop = build_index(config, LazyEmbedder(model.name, lambda: model))
        noop_s = time.perf_counter() - started

        shutil.copy(added_report, corpus / added_report.name)
        started = time.perf_counter()
        added = build_index(config, model)
        added_s = time.perf_counter() - started
        return {
            "documents": len(report.documents),
            "passages": report.passages,
            "texts_embedded": len(texts),
            "cold_s": cold,
            "parse_s": embed_start,
            "embed_s": embed_end - embed_start,
            "write_verify_publish_s": cold - embed_end,
            "bare_encode_s": bare,
            "cold_over_bare_encode": cold / bare,
            "batch_size": config.batch_size,
            "texts_per_s_by_batch_size": sweep,
            "pages_per_s": pages / cold if pages else None,
            "passages_per_s": report.passages / cold,
            "noop_s": noop_s,
            "noop_embedded": noop.embedded,
            "added_report": added_report.name,
            "added_s": added_s,
            "added_passages": sum(
                d.passages for d in added.documents if d.source == added_report.name
            ),
            "added_embedded": added.embedded,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
