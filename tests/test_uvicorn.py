"""The service as users run it: a real uvicorn process on a free port."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from iomqa.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(real_corpus_fake_index: Settings) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "IOMQA_INDEX_DIR": str(real_corpus_fake_index.index_dir),
        "IOMQA_CORPUS_DIR": str(real_corpus_fake_index.corpus_dir),
        "IOMQA_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "iomqa", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server exited early: {out}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not become healthy in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_real_server_answers_with_citations(server: str) -> None:
    r = httpx.post(f"{server}/ask", json={"question": "IOM Council Member States", "top_k": 3})
    assert r.status_code == 200
    passages = r.json()["passages"]
    assert len(passages) == 3 and all(p["citation"]["formatted"] for p in passages)


def test_real_server_rejects_bad_input_with_4xx(server: str) -> None:
    assert httpx.post(f"{server}/ask", json={"question": ""}).status_code == 422
    assert httpx.get(f"{server}/passages/nope").status_code == 404
    headers = {"content-type": "application/json"}
    r = httpx.post(f"{server}/ask", content=b"\xff\xfe", headers=headers)
    assert r.status_code == 422


def test_serve_without_index_exits_with_a_hint(tmp_path: object) -> None:
    env = {**os.environ, "IOMQA_INDEX_DIR": f"{tmp_path}/none"}
    done = subprocess.run(
        [sys.executable, "-m", "iomqa", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "iomqa ingest" in done.stderr
