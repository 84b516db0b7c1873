"""What routes receive through `service.deps`, and that tests can swap it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.errors import IndexCorrupt, IndexNotFound
from core.settings import Settings
from index.generations import GENERATIONS, current_version
from index.searcher import Searcher
from service.app import create_app
from service.deps import get_searcher, get_settings
from service.reload import SearcherHolder


@pytest.fixture
def app(small_index: Settings) -> FastAPI:
    return create_app(small_index.model_copy(update={"reload_interval": 0}))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


class ReloadMidRequest:
    """The served searcher; the first passage lookup swaps the holder to `other`."""

    def __init__(self, inner: Searcher, holder: SearcherHolder, other: Any) -> None:
        self._inner = inner
        self._holder = holder
        self._other = other

    def passage(self, passage_id: str) -> Any:
        self._holder.current = self._other
        return self._inner.passage(passage_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_request_keeps_its_searcher_when_a_reload_swaps_it(
    app: FastAPI, client: TestClient
) -> None:
    holder: SearcherHolder = app.state.holder
    served = holder.current
    assert served is not None
    first = served.passages_of(served.documents()[0].doc_id)[0]

    class Gone:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the request read {name} from the new searcher")

    holder.current = ReloadMidRequest(served, holder, Gone())  # type: ignore[assignment]
    try:
        r = client.get(f"/passages/{first.passage_id}/cite", params={"format": "ris"})
    finally:
        holder.current = served
    assert r.status_code == 200
    assert r.headers["x-index-version"] == served.version


def test_an_overridden_searcher_answers_for_the_served_one(
    app: FastAPI, client: TestClient
) -> None:
    served = app.state.holder.current

    class OneDocument:
        version = "override-1"

        def documents(self) -> list[Any]:
            return served.documents()[:1]

    app.dependency_overrides[get_searcher] = OneDocument
    body = client.get("/documents").json()
    assert body["index_version"] == "override-1"
    assert [d["doc_id"] for d in body["documents"]] == [served.documents()[0].doc_id]
    app.dependency_overrides.clear()
    assert len(client.get("/documents").json()["documents"]) == len(served.documents())


def test_admin_routes_read_the_token_from_the_settings_dependency(
    app: FastAPI, client: TestClient, small_index: Settings
) -> None:
    assert client.post("/admin/reload").status_code == 404  # no token configured
    with_token = small_index.model_copy(update={"admin_token": SecretStr("dep-token")})
    app.dependency_overrides[get_settings] = lambda: with_token
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 403
    r = client.post("/admin/reload", headers={"Authorization": "Bearer dep-token"})
    assert r.status_code == 200 and r.json()["reloaded"] is False


def test_without_an_index_the_holder_says_it_is_missing(tmp_path: Path) -> None:
    holder = SearcherHolder(tmp_path / "index", Settings().model_source)
    holder.reload()
    error = holder.unavailable()
    assert isinstance(error, IndexNotFound) and "iomqa ingest" in str(error)


def test_a_refused_generation_makes_the_index_corrupt_not_missing(small_index: Settings) -> None:
    version = current_version(small_index.index_dir)
    (small_index.index_dir / GENERATIONS / str(version) / "dense.faiss").unlink()
    holder = SearcherHolder(small_index.index_dir, small_index.model_source)
    holder.reload()
    error = holder.unavailable()
    assert isinstance(error, IndexCorrupt)
    assert str(version) in str(error) and "dense.faiss" in str(error)
    with TestClient(create_app(small_index)) as c:
        r = c.get("/documents")
        assert r.status_code == 503 and r.json() == {"detail": str(error)}
