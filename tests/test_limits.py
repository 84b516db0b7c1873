"""Limits: body size, odd input, the per-request deadline, CORS and uvicorn's concurrency cap."""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from service.app import create_app


@pytest.fixture(scope="module")
def client(real_corpus_fake_index: Settings) -> Iterator[TestClient]:
    settings = real_corpus_fake_index.model_copy(
        update={"max_body_bytes": 4096, "request_timeout_s": 0.3, "reload_interval": 0}
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_a_body_over_the_limit_is_refused_before_parsing(client: TestClient) -> None:
    body = json.dumps({"question": "migration " * 500}).encode()
    r = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "larger than 4096 bytes" in r.json()["detail"] and "allowed" in r.json()["detail"]
    assert r.headers["x-request-id"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(100):
            yield b"migration " * 10
        yield b'"}'

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than 4096 bytes" in r.json()["detail"]


def test_a_body_under_the_limit_is_answered(client: TestClient) -> None:
    assert client.post("/ask", json={"question": "migration data"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"question": "\\ud800 migration"}', "valid string"),
        (b"\xff\xfe\x08", "could not be parsed"),
        (b'{"question": "ok", "top_k": 100000000000000000000000000000}', "from 1 to 50"),
        (b'{"question": "ok", "filters": {"year_from": -99999999999999999999}}', "year_from"),
        (b'{"question": "\\ud800", "top_k": 0}', "top_k"),
    ],
)
def test_odd_input_is_a_422_never_a_500(client: TestClient, body: bytes, message: str) -> None:
    r = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.delete("/ask")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST" and "allowed: GET, POST" in r.json()["detail"]


class SlowSearcher:
    """The served searcher, but every search waits until released."""

    def __init__(self, inner: Any, release: threading.Event) -> None:
        self._inner = inner
        self._release = release
        self.finished = threading.Semaphore(0)  # one release per search that has returned

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self._release.wait(10)
        try:
            return self._inner.search(*args, **kwargs)
        finally:
            self.finished.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_search_over_the_deadline_answers_503(client: TestClient) -> None:
    holder = client.app.state.holder  # type: ignore[attr-defined]
    served = holder.current
    release = threading.Event()
    slow = SlowSearcher(served, release)
    holder.current = slow
    try:
        # A question not asked before in this module: a cached answer needs no search.
        r = client.post("/ask", json={"question": "migration data past the deadline"})
        assert r.status_code == 503
        assert "did not finish within 0.3 s" in r.json()["detail"]
        assert "IOMQA_REQUEST_TIMEOUT_S" in r.json()["detail"]
        assert r.headers["retry-after"] == "1"
        g = client.get("/ask", params={"q": "migration past the deadline"})
        assert g.status_code == 503
        assert client.get("/health").status_code == 200  # the rest of the service answers
    finally:
        release.set()
        holder.current = served
    # The two searches given up on still finish in the pool; the next question must not
    # share the cores with them, or it could miss the 0.3 s deadline on a busy machine.
    assert all(slow.finished.acquire(timeout=10) for _ in range(2))
    after = client.post("/ask", json={"question": "migration data past the deadline"})
    assert after.status_code == 200 and after.headers["X-Answer-Cache"] == "miss"


def test_cors_is_closed_by_default(client: TestClient) -> None:
    r = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/ask",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_the_configured_origins(small_index: Settings) -> None:
    settings = small_index.model_copy(
        update={"cors_origins": "https://research.example, https://other.example"}
    )
    with TestClient(create_app(settings)) as c:
        ok = c.get("/health", headers={"Origin": "https://research.example"})
        assert ok.headers["access-control-allow-origin"] == "https://research.example"
        pre = c.options(
            "/ask",
            headers={"Origin": "https://other.example", "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://other.example"
        no = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in no.headers


def test_serve_passes_the_concurrency_limit_to_uvicorn(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from iomqa import cli
    from service import logs

    seen: dict[str, Any] = {}
    monkeypatch.setenv("IOMQA_INDEX_DIR", str(small_index.index_dir))
    monkeypatch.setenv("IOMQA_LIMIT_CONCURRENCY", "7")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(logs, "configure_logging", lambda level: seen.update(level=level))
    cli.get_settings.cache_clear()
    cli.serve(host=None, port=None)
    assert seen["limit_concurrency"] == 7 and seen["access_log"] is False
    assert seen["log_config"] is None and seen["level"] == "INFO"
