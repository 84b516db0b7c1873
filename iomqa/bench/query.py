"""Query latency through real HTTP (uvicorn) at concurrency 1 and 8, beside the bare
encode time of the same questions measured in the same run."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from core.models import HASHING_PREFIX, split_model_spec
from core.settings import Settings
from index.generations import current_generation
from index.manifest import read_manifest
from ingest.embed import make_embedder
from iomqa.bench.server import running_server
from iomqa.bench.stats import percentile


def bare_encode_ms(settings: Settings, questions: Sequence[str], model: str) -> list[float]:

    embedder = make_embedder(model, settings.model_source)
    for q in questions[:10]:
        embedder.encode([q])
    times = []
    for q in questions:
        started = time.perf_counter()
        embedder.encode([q])
        times.append((time.perf_counter() - started) * 1000)
    return times


def _load(url: str, questions: Sequence[str], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    queue = list(questions)

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    question = queue.pop()
                started = time.perf_counter()
                try:
                    ok = client.post("/ask", json={"question": question}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(took)
                    errors += 0 if ok else 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "throughput_qps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }


def run(settings: Settings, questions: Sequence[str], rounds: int = 2) -> dict[str, Any]:

    asked = list(questions) * rounds
    served = read_manifest(current_generation(settings.index_dir)).model
    encode = bare_encode_ms(settings, questions, served)
    # The same model through sentence-transformers/torch: the cost the targets are stated in.
    reference_model = None if served.startswith(HASHING_PREFIX) else split_model_spec(served)[0]
    reference = bare_encode_ms(settings, questions, reference_model) if reference_model else encode
    # Every measured request searches: with the answer cache on, the second round would
    # be answered from memory.
    with running_server(
        settings, IOMQA_ANSWER_CACHE="0", IOMQA_RELOAD_INTERVAL="0", IOMQA_LOG_LEVEL="WARNING"
    ) as url:
        for q in questions[:10]:
            httpx.post(f"{url}/ask", json={"question": q}, timeout=30)
        levels = [_load(url, asked, c) for c in (1, 8)]
    with running_server(settings, IOMQA_RELOAD_INTERVAL="0", IOMQA_LOG_LEVEL="WARNING") as url:
        for q in questions:
            httpx.post(f"{url}/ask", json={"question": q}, timeout=30)
        repeated = _load(url, asked, 1)
    encode_p50 = percentile(encode, 50)
    reference_p50 = percentile(reference, 50)
    for level in levels:
        level["p50_over_encode"] = level["p50_ms"] / encode_p50
        level["p50_over_reference_encode"] = level["p50_ms"] / reference_p50
        level["p99_over_p50"] = level["p99_ms"] / level["p50_ms"]
    return {
        "questions": len(questions),
        "model": served,
        "encode_p50_ms": encode_p50,
        "encode_p95_ms": percentile(encode, 95),
        "reference_model": reference_model or served,
        "reference_encode_p50_ms": reference_p50,
        "levels": levels,
        "repeated": repeated,
    }
