"""How `iomqa serve` runs the service on one machine: one process, or N uvicorn workers.

Workers are separate processes (uvicorn spawns them and shares the listening socket), so
a search in one never waits for the GIL of another. Each worker opens the published
generation itself; the dense indexes and the keyword index are memory-mapped, so the
workers share one copy of them in the page cache instead of holding one each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import uvicorn
from fastapi import FastAPI

from core.settings import Settings, get_settings
from service import logs
from service.app import create_app


def worker_environment(workers: int, cores: int, environ: Mapping[str, str]) -> dict[str, str]:
    """What each worker's environment must add so that N workers share the cores instead
    of each starting a thread per core (which, on two cores and two workers, measured
    slower than one worker). Settings the operator made are kept. Pure."""
    threads = str(max(1, cores // workers))
    added = {"IOMQA_WORKERS": str(workers)}
    for name in ("IOMQA_MODEL_THREADS", "OMP_NUM_THREADS"):  # models; faiss's OpenMP
        if not environ.get(name):
            added[name] = threads
    return added


def worker_app() -> FastAPI:
    """The app of one worker process, configured from the environment it inherited."""
    settings = get_settings()
    logs.configure_logging(settings.log_level)
    return create_app(settings)


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until stopped; blocks."""
    logs.configure_logging(settings.log_level)
    several = settings.workers > 1
    if several:
        # Workers are spawned, not forked: they read their settings from the environment.
        os.environ.update(worker_environment(settings.workers, os.cpu_count() or 1, os.environ))
    uvicorn.run(
        f"{__name__}:worker_app" if several else create_app(settings),
        factory=several,
        workers=settings.workers if several else None,
        host=host,
        port=port,
        limit_concurrency=settings.limit_concurrency,
        log_config=None,  # uvicorn's loggers go to the JSON handler
        access_log=False,  # the service logs one line per request itself, with its id
    )
