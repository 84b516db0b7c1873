"""Dense-index scale: synthetic corpora made by perturbing real passage vectors, exact
search against an IVF index (recall@10, latency, build time, memory, size on disk)."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from iomqa.bench.stats import percentile

NOISE = 0.5  # perturbed copies keep a cosine of about 0.9 with their source passage
CHUNK = 50_000


def synthetic(
    base: npt.NDArray[np.float32], n: int, path: Path, seed: int = 7
) -> npt.NDArray[np.float32]:
    """n unit vectors near the real ones, streamed to a memory-mapped file."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, base.shape[1]))
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        rows = base[rng.integers(0, len(base), size)]
        noisy = rows + NOISE * rng.standard_normal(rows.shape).astype(np.float32) / np.sqrt(
            base.shape[1]
        )
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        out[start : start + size] = noisy
    out.flush()
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _search_ms(index: faiss.Index, queries: npt.NDArray[np.float32]) -> tuple[list[float], Any]:
    # One thread per query: on two cores the other serves the next request.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    faiss.omp_set_num_threads(threads)
    return times, np.array(found)


def run(
    base: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], sizes: Sequence[int]
) -> list[dict[str, Any]]:
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="iomqa-scale-") as tmp:
            vectors = synthetic(base, n, Path(tmp) / "vectors.npy")
            started = time.perf_counter()
            exact = faiss.IndexFlatIP(base.shape[1])
            for s in range(0, n, CHUNK):
                exact.add(np.ascontiguousarray(vectors[s : s + CHUNK]))
            exact_build = time.perf_counter() - started
            exact_ms, truth = _search_ms(exact, queries)
            del exact

            nlist = int(4 * np.sqrt(n))
            started = time.perf_counter()
            quantizer = faiss.IndexFlatIP(base.shape[1])
            ivf = faiss.IndexIVFFlat(quantizer, base.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(1).choice(n, min(n, 40 * nlist), replace=False)
            ivf.train(np.ascontiguousarray(vectors[np.sort(sample)]))
            for s in range(0, n, CHUNK):
                ivf.add(np.ascontiguousarray(vectors[s : s + CHUNK]))
            ivf_build = time.perf_counter() - started
            tuned = []
            for nprobe in (8, 16, 32, 64):
                ivf.nprobe = nprobe
                ms, found = _search_ms(ivf, queries)
                recall = float(
                    np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
                )
                tuned.append(
                    {
                        "nprobe": nprobe,
                        "recall_at_10": recall,
                        "p50_ms": percentile(ms, 50),
                        "p99_ms": percentile(ms, 99),
                    }
                )
            path = Path(tmp) / "ivf.faiss"
            faiss.write_index(ivf, str(path))
            results.append(
                {
                    "passages": n,
                    "exact_build_s": exact_build,
                    "exact_p50_ms": percentile(exact_ms, 50),
                    "exact_p99_ms": percentile(exact_ms, 99),
                    "ivf_nlist": nlist,
                    "ivf_build_s": ivf_build,
                    "ivf": tuned,
                    "ivf_size_mb": path.stat().st_size / 2**20,
                    "peak_rss_mb": _rss_mb(),
                }
            )
            del ivf, vectors
    return results
