"""Throughput of `iomqa serve --workers N` at concurrency 8, as a share of what the
cores can compute.

The cores' capacity is measured, not assumed: one request at a time against one worker
whose models each run on one thread (`IOMQA_MODEL_THREADS=1`), the p50 time a client
waits for an answer is what one request costs a core (encode, search, rerank, HTTP and
JSON on both sides); `cores / that time` is how many requests per second the machine
could answer if every core did nothing but run requests back to back. The share is the
measured throughput over that capacity: what contention, the GIL and idle cores leave.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from core.settings import Settings
from iomqa.bench.query import MODES, load_level, warm_up
from iomqa.bench.server import measuring_server

WORKERS = (1, 2)
CONCURRENCY = 8
TARGET_SHARE = 0.8  # of the capacity, at concurrency 8, with one worker per core


def capacity_qps(cores: int, request_cpu_ms: float) -> float:
    """Requests per second the cores can compute, one request per core at a time. Pure."""
    return cores * 1000.0 / request_cpu_ms if request_cpu_ms > 0 else 0.0


def _server(settings: Settings, workers: int, **env: str) -> AbstractContextManager[str]:
    return measuring_server(settings, IOMQA_WORKERS=str(workers), **env)


def request_cpu_ms(settings: Settings, questions: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per mode, one worker, one thread per model, one request at a time: the p50 a client
    waits (`request`) and the p50 of the server's own steps (`server`: encode, search,
    rerank; without HTTP and JSON)."""
    costs: dict[str, dict[str, float]] = {"request": {}, "server": {}}
    with _server(settings, 1, IOMQA_MODEL_THREADS="1") as url:
        for mode in MODES:
            warm_up(url, questions, mode)
            level = load_level(url, questions, 1, mode)
            costs["request"][str(mode)] = level["p50_ms"]
            costs["server"][str(mode)] = level["total_p50_ms"]
    return costs


def _row(n: int, mode: str, level: dict[str, Any], cores: int, costs: Any) -> dict[str, Any]:
    qps = level["throughput_qps"]
    capacity = capacity_qps(cores, costs["request"][mode])
    server_capacity = capacity_qps(cores, costs["server"][mode])
    return {
        "workers": n,
        "mode": mode,
        "concurrency": CONCURRENCY,
        "requests": level["requests"],
        "errors": level["errors"],
        "throughput_qps": qps,
        "p50_ms": level["p50_ms"],
        "p99_ms": level["p99_ms"],
        "capacity_qps": capacity,
        "share": qps / capacity if capacity else 0.0,
        # Against the server's steps alone: HTTP and JSON count as waste here.
        "server_capacity_qps": server_capacity,
        "server_share": qps / server_capacity if server_capacity else 0.0,
    }


def run(
    settings: Settings, questions: Sequence[str], workers: Sequence[int] = WORKERS, rounds: int = 2
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    costs = request_cpu_ms(settings, questions)
    asked = list(questions) * rounds
    rows = []
    for n in workers:
        with _server(settings, n) as url:
            for mode in MODES:
                warm_up(url, questions, mode)
                level = load_level(url, asked, CONCURRENCY, mode)
                rows.append(_row(n, str(mode), level, cores, costs))
    return {
        "cores": cores,
        "request_cpu_ms": costs["request"],
        "server_cpu_ms": costs["server"],
        "target_share": TARGET_SHARE,
        "rows": rows,
    }
