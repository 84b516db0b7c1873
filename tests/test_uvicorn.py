"""The service as users run it: a real uvicorn process on a free port."""

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from iomqa.bench.server import running_server


@pytest.fixture(scope="module")
def server(real_corpus_fake_index: Settings) -> Iterator[str]:
    with running_server(real_corpus_fake_index) as url:
        yield url


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
