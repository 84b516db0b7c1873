"""`iomqa serve` in a child process on a free loopback port, for benchmarks and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx

from core.settings import Settings


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at `host` now (a loopback address, for the benches)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# What a measured server runs with: every request searches (no answer cache, else a
# repeated question is answered from memory), nothing reloads or logs mid-measure.
MEASURING = {"IOMQA_ANSWER_CACHE": "0", "IOMQA_RELOAD_INTERVAL": "0", "IOMQA_LOG_LEVEL": "WARNING"}


def measuring_server(settings: Settings, **env: str) -> AbstractContextManager[str]:
    """`running_server` set up for measuring; `env` adds to MEASURING or overrides it."""
    return running_server(settings, 120, **{**MEASURING, **env})


@contextmanager
def running_server(settings: Settings, timeout: float = 120, **env: str) -> Iterator[str]:
    """Yield the base URL once /health answers 200; stop the server afterwards.

    `env` adds IOMQA_* variables (e.g. IOMQA_RELOAD_INTERVAL="0.5").
    """
    port = free_port()
    environment = {
        **os.environ,
        "IOMQA_INDEX_DIR": str(settings.index_dir),
        "IOMQA_CORPUS_DIR": str(settings.corpus_dir),
        "IOMQA_MODEL": settings.model,
        "IOMQA_RERANKER": settings.reranker,
        "IOMQA_MODEL_CACHE_DIR": str(settings.model_cache_dir),
        "IOMQA_PORT": str(port),
        **env,
    }
    url = f"http://127.0.0.1:{port}"
    # A file, not a pipe: a chatty server must never block on a full pipe.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "iomqa", "serve"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited early: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not healthy within {timeout:.0f} s")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
