"""Parsing and embedding on a Ray cluster: `iomqa ingest --ray HOST:PORT`.

Ray is an optional extra (`pip install -e '.[ray]'`), so this module imports it inside
its functions only: the package imports, and local builds run, without it.

- Parsing: one Ray task per file running `ingest.executor.parse_one`, the function a
  local build runs, so a PDF is still read by a child process under `PdfLimits`. A task
  lost with its worker or node is run again (`max_retries`).
- Embedding: a Ray Data dataset of the texts the cache lacks, mapped in large blocks
  through an actor pool, one model per actor loaded by `make_embedder` from the packaged
  files. Ray Data restarts lost actors and recomputes lost blocks; blocks come back in
  order, and each carries its row numbers so a misplaced one fails loudly.

Nodes read corpus files and model files at the driver's paths: every node needs the
corpus folder and the model cache at the same paths (one machine, or shared storage).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from core.cluster import import_ray, join
from core.errors import ClusterError, ModelError
from core.models import ModelSource
from ingest.chunk import ChunkParams
from ingest.embed import make_embedder
from ingest.executor import Parsed, ParseJob, parse_one
from ingest.pdf import PageProgress, PdfLimits
from ingest.vectors import Embedder, Vectors

log = logging.getLogger(__name__)

# Texts per Ray Data block at most: large enough that shipping a block costs little next
# to embedding it, small enough that a lost block is cheap to redo.
BLOCK_TEXTS = 1024
# Blocks per actor at least, of about equal length in characters: passages are ten times
# longer than sentences, and blocks of equal counts leave one actor with all of them.
BLOCKS_PER_ACTOR = 4
TASK_RETRIES = 3


def absolute(source: ModelSource) -> ModelSource:
    """Workers do not run in the driver's folder: relative paths are resolved here."""
    path = source.path.resolve() if source.path else None
    return ModelSource(path, source.cache_dir.resolve())


def _absolute_job(job: ParseJob) -> ParseJob:
    """The job with its file's path resolved here, as for model paths."""
    return ParseJob(replace(job.file, path=job.file.path.resolve()), job.doc_id)


@contextmanager
def ray_executor(
    address: str, model: str, source: ModelSource, *, block_texts: int = BLOCK_TEXTS
) -> Iterator[RayExecutor]:
    """Connected to the cluster at `address` for the duration; nothing starts on an
    unreachable or unusable cluster."""
    ray = join(address)
    try:
        yield RayExecutor(model, absolute(source), block_texts)
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class RayExecutor:
    """An `ingest.executor.Executor` on the cluster `ray.init` joined."""

    model: str
    source: ModelSource
    block_texts: int = BLOCK_TEXTS

    def parse(
        self,
        jobs: Sequence[ParseJob],
        params: ChunkParams,
        limits: PdfLimits,
        on_pages: PageProgress | None = None,
    ) -> Iterator[Parsed]:
        """All files at once, side by side; results in order as they are ready. Page
        progress stays on the nodes: the build counts whole documents."""
        ray = import_ray()
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(parse_one)
        refs = [task.remote(_absolute_job(job), params, limits) for job in jobs]
        for ref in refs:
            with _cluster_errors(ray):
                parsed: Parsed = ray.get(ref)
            yield parsed

    def encode(
        self, texts: Sequence[str], embedder: Embedder, batch_size: int
    ) -> Iterator[Vectors]:
        if embedder.name != self.model:
            raise ModelError(f"the cluster embeds with {self.model}, not {embedder.name}")
        if not texts:
            return
        ray = import_ray()
        with _cluster_errors(ray):
            batches = self._dataset(ray, texts, batch_size)
        done = 0
        while True:
            with _cluster_errors(ray):
                batch = next(batches, None)
            if batch is None:
                return
            rows = batch["row"]
            if not np.array_equal(rows, np.arange(done, done + len(rows))):
                raise ClusterError(f"vectors came back out of order at row {done}")
            done += len(rows)
            yield np.asarray(batch["vector"], dtype=np.float32)

    def _dataset(
        self, ray: ModuleType, texts: Sequence[str], batch_size: int
    ) -> Iterator[dict[str, npt.NDArray[Any]]]:
        """The texts' vectors as an iterator of blocks, in row order."""
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # the build reports progress itself
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # ... and would say so on every build.
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # CPUs that other work (replicas of `iomqa serve --ray`) holds get no actor at first.
        free = min(actors, max(1, int(ray.available_resources().get("CPU", 0))))
        bounds = block_bounds([len(t) for t in texts], self.block_texts, actors * BLOCKS_PER_ACTOR)
        dataset = ray.data.from_arrow(_blocks(texts, bounds)).map_batches(
            Encoder,
            fn_constructor_args=(self.model, self.source, batch_size),
            batch_size=None,  # one block per call
            batch_format="numpy",
            # As many actors as free CPUs from the start (a pool that starts with one
            # grows too late for a build), up to one per CPU of the cluster.
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=free),
            num_cpus=1,
            # One CPU per actor, so one model thread: more would fight over the cores.
            runtime_env={"env_vars": {"IOMQA_MODEL_THREADS": "1"}},
        )
        batches: Iterator[dict[str, npt.NDArray[Any]]] = iter(
            dataset.iter_batches(batch_size=None, batch_format="numpy")
        )
        return batches


def block_bounds(lengths: Sequence[int], max_texts: int, blocks: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) row ranges of about equal total length, `blocks` of them
    unless `max_texts` texts per block asks for more."""
    budget = max(1, math.ceil(sum(lengths) / max(1, blocks)))
    bounds: list[tuple[int, int]] = []
    start = filled = 0
    for row, length in enumerate(lengths):
        filled += length
        if filled >= budget or row + 1 - start == max_texts:
            bounds.append((start, row + 1))
            start, filled = row + 1, 0
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


def _blocks(texts: Sequence[str], bounds: Sequence[tuple[int, int]]) -> list[Any]:
    """The texts with their row numbers as one Arrow table per block."""
    import pyarrow as pa  # comes with Ray Data, so optional too

    return [
        pa.table(
            {
                "row": pa.array(range(start, stop), pa.int64()),
                "text": pa.array(texts[start:stop], pa.string()),
            }
        )
        for start, stop in bounds
    ]


@contextmanager
def _cluster_errors(ray: ModuleType) -> Iterator[None]:
    """The cluster's failures that outlast Ray's own retries, as a ClusterError."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"the Ray cluster failed: {exc}") from exc


class Encoder:
    """A Ray Data actor: one model, loaded once from the packaged files."""

    def __init__(self, model: str, source: ModelSource, batch_size: int) -> None:
        self._embedder = make_embedder(model, source)
        self._batch_size = batch_size

    def __call__(self, batch: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        texts = [str(t) for t in batch["text"]]
        vectors = self._embedder.encode(texts, batch_size=self._batch_size)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}
