"""Where a build's heavy work runs: parsing documents and embedding texts.

A build asks for two things only: parse these corpus files, and encode these texts as a
stream of vector blocks in order. `LocalExecutor` does both in this process, one file
and one small batch at a time; `ingest.ray_backend.RayExecutor` does them on a Ray
cluster. The build itself (plan, cache, writing, verifying, publishing) stays on the
machine that holds the index, whichever executor runs the work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.errors import DocumentError
from ingest.chunk import ChunkParams
from ingest.corpus import CorpusFile
from ingest.pdf import PageProgress, PdfLimits
from ingest.pipeline import Processed, process
from ingest.vectors import Embedder, Vectors


@dataclass(frozen=True)
class ParseJob:
    file: CorpusFile
    doc_id: str


@dataclass(frozen=True)
class ParseFailure:
    """A DocumentError as a value: it crosses process boundaries by pickle, which an
    exception with two required arguments does not survive."""

    status: str
    reason: str


Parsed = Processed | ParseFailure


def parse_one(
    job: ParseJob, params: ChunkParams, limits: PdfLimits, on_pages: PageProgress | None = None
) -> Parsed:
    """One file's document and passages, or why it cannot be indexed."""
    try:
        return process(job.file, job.doc_id, params, limits, on_pages)
    except DocumentError as exc:
        return ParseFailure(exc.status, exc.reason)


class Executor(Protocol):
    def parse(
        self,
        jobs: Sequence[ParseJob],
        params: ChunkParams,
        limits: PdfLimits,
        on_pages: PageProgress | None = None,
    ) -> Iterator[Parsed]:
        """One result per job, in the jobs' order."""
        ...

    def encode(
        self, texts: Sequence[str], embedder: Embedder, batch_size: int
    ) -> Iterator[Vectors]:
        """Unit vectors of `texts` as consecutive float32 blocks, in order; `embedder`
        names the model (and runs it, locally)."""
        ...


class LocalExecutor:
    """This process: one file at a time, and small batches, so every batch's vectors
    reach the cache before the next is computed."""

    def parse(
        self,
        jobs: Sequence[ParseJob],
        params: ChunkParams,
        limits: PdfLimits,
        on_pages: PageProgress | None = None,
    ) -> Iterator[Parsed]:
        for job in jobs:
            yield parse_one(job, params, limits, on_pages)

    def encode(
        self, texts: Sequence[str], embedder: Embedder, batch_size: int
    ) -> Iterator[Vectors]:
        step = batch_size * 4
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            yield np.asarray(embedder.encode(part, batch_size=batch_size), dtype=np.float32)


LOCAL = LocalExecutor()
