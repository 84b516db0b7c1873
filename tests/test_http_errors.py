"""The error boundary: domain errors raised anywhere in a request answer with their status
in the one documented shape, {"detail": ...} (plus `errors` for a 422)."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.errors import (
    ClusterError,
    CorpusError,
    DocumentError,
    IndexCorrupt,
    IndexNotFound,
    IngestLocked,
    IomqaError,
    ModelError,
    NotFound,
)
from core.settings import Settings
from index.searcher import Searcher
from service.app import create_app
from service.deps import get_jobs, get_searcher, require_admin
from service.errors import status_for
from service.routes import admin
from service.schemas import ErrorOut, ValidationErrorOut

TOKEN = "errors-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FailingSearcher:
    """The served searcher, but calling one of its methods raises `error`."""

    def __init__(self, inner: Searcher, method: str, error: Exception) -> None:
        self._inner = inner
        self._method = method
        self._error = error

    def __getattr__(self, name: str) -> Any:
        if name != self._method:
            return getattr(self._inner, name)

        def fail(*args: object, **kwargs: object) -> None:
            raise self._error

        return fail


@pytest.fixture
def app(small_index: Settings) -> FastAPI:
    return create_app(small_index.model_copy(update={"admin_token": SecretStr(TOKEN)}))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def served(app: FastAPI) -> Searcher:
    searcher: Searcher = app.state.holder.current
    return searcher


def fail_with(app: FastAPI, method: str, error: Exception) -> None:
    failing = FailingSearcher(served(app), method, error)
    app.dependency_overrides[get_searcher] = lambda: failing


def assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"detail"}
    ErrorOut.model_validate(body)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("no passage 'x'"), 404),
        (IngestLocked("another ingest is running"), 409),
        (CorpusError("unknown keys ['titel']"), 422),
        (DocumentError("encrypted", "encrypted PDF: send the password"), 422),
        (IndexNotFound("no index"), 503),
        (IndexCorrupt("dense.faiss does not match the manifest"), 503),
        (ModelError("model folder missing"), 503),
        (ClusterError("the Ray cluster failed"), 503),
        (IomqaError("an error no status was chosen for"), 500),
    ],
)
def test_each_domain_error_has_its_status(error: IomqaError, status: int) -> None:
    assert status_for(error) == status


def test_a_subclass_answers_with_its_parents_status() -> None:
    class StaleGeneration(IndexCorrupt):
        pass

    assert status_for(StaleGeneration("moved away")) == 503


def test_an_index_found_corrupt_mid_request_answers_503_with_the_reason(
    app: FastAPI, client: TestClient
) -> None:
    passage_id = served(app).passages_of(served(app).documents()[0].doc_id)[0].passage_id
    reason = "passages.sqlite3 does not match the manifest (sha256 differs)"
    fail_with(app, "neighbours", IndexCorrupt(reason))
    r = client.get(f"/passages/{passage_id}")
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": reason}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (IndexCorrupt("dense.faiss: truncated"), 503),
        (ModelError("the model cannot run: onnxruntime missing"), 503),
        (IomqaError("something the boundary has no status for"), 500),
    ],
)
def test_a_search_that_fails_answers_in_the_error_shape(
    app: FastAPI, client: TestClient, error: IomqaError, status: int
) -> None:
    # The search runs in the worker pool: its error still reaches the boundary.
    fail_with(app, "search", error)
    r = client.post("/ask", json={"question": "ports and unions"})
    assert r.status_code == status
    assert_error_shape(r.json())
    assert r.json()["detail"] == str(error)


def test_unknown_ids_are_404_naming_the_id(client: TestClient) -> None:
    for path, named in [
        ("/passages/p-nope", "'p-nope'"),
        ("/passages/p-nope/cite", "'p-nope'"),
        ("/documents/d-nope", "'d-nope'"),
        ("/documents/d-nope/text", "'d-nope'"),
        ("/admin/jobs/j-nope", "'j-nope'"),
    ]:
        r = client.get(path, headers=AUTH)
        assert r.status_code == 404, path
        assert_error_shape(r.json())
        assert named in r.json()["detail"]


def test_an_unknown_document_lists_the_known_ones(app: FastAPI, client: TestClient) -> None:
    detail = client.get("/documents/d-nope").json()["detail"]
    assert all(d.doc_id in detail for d in served(app).documents())


def test_an_ingest_refused_by_the_index_lock_is_409(app: FastAPI, client: TestClient) -> None:
    class LockedJobs:
        def submit_ingest(self, details: dict[str, Any]) -> None:
            raise IngestLocked("another ingest is running: wait for it to finish")

    app.dependency_overrides[get_jobs] = LockedJobs
    app.dependency_overrides[require_admin] = lambda: None
    r = client.post("/admin/ingest")
    assert r.status_code == 409
    assert r.json() == {"detail": "another ingest is running: wait for it to finish"}


def test_metadata_the_corpus_manifest_refuses_is_422_and_stores_nothing(
    app: FastAPI, client: TestClient, small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise CorpusError("unknown keys ['titel']; allowed: ['author', 'title', ...]")

    monkeypatch.setattr(admin, "set_manifest_entry", refuse)
    listing = sorted(p.name for p in small_index.corpus_dir.iterdir())
    r = client.post(
        "/admin/documents",
        files={"file": ("delta.md", b"# Delta\n\nPorts and unions.\n")},
        data={"title": "Delta"},
        headers=AUTH,
    )
    assert r.status_code == 422 and "unknown keys" in r.json()["detail"]
    assert sorted(p.name for p in small_index.corpus_dir.iterdir()) == listing


def test_no_index_is_503_with_how_to_build_one(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        for path in ("/documents", "/passages/p-1", "/documents/d-1/cite", "/ask?q=ports"):
            r = c.get(path)
            assert r.status_code == 503, path
            assert_error_shape(r.json())
            assert "iomqa ingest" in r.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/ask", "GET, POST"),
        ("DELETE", "/admin/reload", "POST"),  # a route of a router with a prefix
        ("POST", "/", "GET"),  # the web page
        ("PUT", "/passages/p-1/cite", "GET"),
        ("POST", "/static/style.css", "GET, HEAD"),
    ],
)
def test_405_names_the_methods_the_path_has(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == 405
    assert r.headers["allow"] == allowed
    assert r.json() == {"detail": f"method {method} not allowed here (allowed: {allowed})"}


def test_every_documented_error_has_the_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    shapes = {"#/components/schemas/ErrorOut", "#/components/schemas/ValidationErrorOut"}
    seen = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] not in "45":
                    continue
                content = response["content"]
                assert list(content) == ["application/json"], (method, path, status)
                assert content["application/json"]["schema"]["$ref"] in shapes
                seen += 1
    assert seen > 30
    props = schema["components"]["schemas"]["ValidationErrorOut"]["properties"]
    assert set(props) == set(ValidationErrorOut.model_fields) == {"detail", "errors"}
