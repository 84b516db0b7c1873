"""Query latency through real HTTP (uvicorn), per ranking mode at concurrency 1 and 8,
split into the steps each answer's `stages` reports, beside the bare encode time of the
same questions measured in the same run."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from core.models import BGE_MODEL, HASHING_PREFIX, split_model_spec
from core.records import Mode
from core.settings import Settings
from index.generations import current_generation
from index.manifest import read_manifest
from ingest.embed import make_embedder
from iomqa.bench.client import Connection
from iomqa.bench.server import measuring_server, running_server
from iomqa.bench.stats import percentile
from service.schemas import DEFAULT_TOP_K

MODES = (Mode.PRECISE, Mode.FAST)
CONCURRENCY = (1, 8)
# The speed target of the default mode, for one user at a time on the reference machine.
BUDGET_MODE = Mode.PRECISE
BUDGET_CONCURRENCY = 1
BUDGET_P50_MS = 250.0
BUDGET_P99_MS = 600.0
STAGE_FIELDS = ("encode_ms", "first_stage_ms", "rerank_ms", "total_ms")

# One request: its HTTP latency, and the answer's `stages` (None when the request failed).
Sample = tuple[float, Mapping[str, Any] | None]


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


def summarise(
    mode: str, concurrency: int, samples: Sequence[Sample], wall_s: float
) -> dict[str, Any]:
    """One load level's figures: HTTP latency over every request, each step's time over
    the answered ones, and what HTTP adds to the server's own total (per request, then
    its median)."""
    latencies = [took for took, _ in samples]
    answered = [(took, stages) for took, stages in samples if stages is not None]
    level: dict[str, Any] = {
        "mode": str(mode),
        "concurrency": concurrency,
        "requests": len(samples),
        "errors": len(samples) - len(answered),
        "throughput_qps": len(samples) / wall_s if wall_s > 0 else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "rerankers": sorted({str(s["reranker"]) for _, s in answered if s.get("reranker")}),
        "reranked_max": max((int(s.get("reranked", 0)) for _, s in answered), default=0),
        "read_whole_max": max((int(s.get("read_whole", 0)) for _, s in answered), default=0),
        "cached": sum(1 for _, s in answered if s.get("cached")),
    }
    for field in STAGE_FIELDS:
        values = [float(s[field]) for _, s in answered]
        stem = field.removesuffix("_ms")
        level[f"{stem}_p50_ms"] = percentile(values, 50)
        level[f"{stem}_p99_ms"] = percentile(values, 99)
    level["http_overhead_p50_ms"] = percentile([t - float(s["total_ms"]) for t, s in answered], 50)
    return level


def budget(levels: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The precise mode's target at concurrency 1, met or not by the measured level."""
    for level in levels:
        if level["mode"] == BUDGET_MODE and level["concurrency"] == BUDGET_CONCURRENCY:
            met = level["p50_ms"] <= BUDGET_P50_MS and level["p99_ms"] <= BUDGET_P99_MS
            return {
                "mode": str(BUDGET_MODE),
                "concurrency": BUDGET_CONCURRENCY,
                "p50_limit_ms": BUDGET_P50_MS,
                "p99_limit_ms": BUDGET_P99_MS,
                "p50_ms": level["p50_ms"],
                "p99_ms": level["p99_ms"],
                "met": met and level["errors"] == 0,
            }
    return None


def ask_once(client: Connection, question: str, mode: str) -> Sample:
    body = {"question": question, "top_k": DEFAULT_TOP_K, "mode": mode}
    started = time.perf_counter()
    try:
        status, data = client.post_json("/ask", body)
        took = (time.perf_counter() - started) * 1000
        if status != 200:
            return took, None
        stages: Mapping[str, Any] = json.loads(data)["stages"]
        return took, stages
    except (OSError, http.client.HTTPException, ValueError, KeyError):
        return (time.perf_counter() - started) * 1000, None


def load_level(url: str, questions: Sequence[str], concurrency: int, mode: str) -> dict[str, Any]:
    samples: list[Sample] = []
    lock = threading.Lock()
    queue = list(questions)

    def worker() -> None:
        with Connection(url) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    question = queue.pop()
                sample = ask_once(client, question, mode)
                with lock:
                    samples.append(sample)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summarise(mode, concurrency, samples, time.perf_counter() - started)


def warm_up(url: str, questions: Sequence[str], mode: str) -> None:
    """Models loaded and their first runs paid before anything is timed."""
    with Connection(url) as client:
        for q in questions[:10]:
            ask_once(client, q, mode)


def _uncached_levels(
    settings: Settings, questions: Sequence[str], asked: Sequence[str]
) -> list[dict[str, Any]]:
    with measuring_server(settings) as url:
        levels = []
        for mode in MODES:
            warm_up(url, questions, mode)
            levels += [load_level(url, asked, c, mode) for c in CONCURRENCY]
        return levels


def _cached_level(
    settings: Settings, questions: Sequence[str], asked: Sequence[str]
) -> dict[str, Any]:
    with running_server(settings, IOMQA_RELOAD_INTERVAL="0", IOMQA_LOG_LEVEL="WARNING") as url:
        with Connection(url) as client:
            for q in questions:
                ask_once(client, q, Mode.PRECISE)
        return load_level(url, asked, 1, Mode.PRECISE)


def run(settings: Settings, questions: Sequence[str], rounds: int = 2) -> dict[str, Any]:

    asked = list(questions) * rounds
    served = read_manifest(current_generation(settings.index_dir)).model
    encode = bare_encode_ms(settings, questions, served)
    # The same model through sentence-transformers/torch: the cost the targets are stated in.
    # bge ships as int8 ONNX only: it has no torch counterpart here.
    no_reference = served.startswith(HASHING_PREFIX) or served == BGE_MODEL
    reference_model = None if no_reference else split_model_spec(served)[0]
    reference = bare_encode_ms(settings, questions, reference_model) if reference_model else encode
    levels = _uncached_levels(settings, questions, asked)
    repeated = _cached_level(settings, questions, asked)
    encode_p50 = percentile(encode, 50)
    reference_p50 = percentile(reference, 50)
    for level in levels:
        level["p50_over_encode"] = level["p50_ms"] / encode_p50
        level["p50_over_reference_encode"] = level["p50_ms"] / reference_p50
        level["p99_over_p50"] = level["p99_ms"] / level["p50_ms"]
    return {
        "questions": len(questions),
        "rounds": rounds,
        "top_k": DEFAULT_TOP_K,
        "model": served,
        "encode_p50_ms": encode_p50,
        "encode_p95_ms": percentile(encode, 95),
        "reference_model": reference_model or served,
        "reference_encode_p50_ms": reference_p50,
        "levels": levels,
        "budget": budget(levels),
        "repeated": repeated,
    }
