"""Admin API: token checks, uploads, ingest jobs and reloads (TestClient, hashing model)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.settings import Settings
from index.generations import CURRENT, GENERATIONS, current_version
from service.app import create_app
from tests.conftest import build

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPORT = "# Delta report\n\n## 1. Ports\n\nDockworkers in Mombasa formed a migrant union in 2024.\n"


@pytest.fixture
def admin_settings(small_index: Settings) -> Settings:
    return small_index.model_copy(
        update={"admin_token": SecretStr(TOKEN), "reload_interval": 0.2, "max_upload_mb": 0.01}
    )


@pytest.fixture
def client(admin_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(admin_settings)) as c:
        yield c


def wait_for_job(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_admin_is_disabled_without_a_configured_token(small_index: Settings) -> None:
    with TestClient(create_app(small_index)) as c:
        r = c.post("/admin/reload", headers=AUTH)
        assert r.status_code == 404 and "IOMQA_ADMIN_TOKEN" in r.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Authorization": "Bearer nope"}, 403),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403),
        (AUTH, 200),
    ],
)
def test_token_is_required(client: TestClient, headers: dict[str, str], status: int) -> None:
    assert client.post("/admin/reload", headers=headers).status_code == status
    if status == 401:
        assert client.post("/admin/reload", headers=headers).headers["www-authenticate"] == "Bearer"


def test_upload_without_token_stores_nothing(client: TestClient, admin_settings: Settings) -> None:
    r = client.post("/admin/documents", files={"file": ("delta.md", REPORT.encode())})
    assert r.status_code == 401
    assert not (admin_settings.corpus_dir / "delta.md").exists()


def test_upload_ingests_in_the_background_and_the_service_serves_it(
    client: TestClient, admin_settings: Settings
) -> None:
    before = client.get("/health").json()["index_version"]
    r = client.post(
        "/admin/documents",
        files={"file": ("delta.md", REPORT.encode())},
        data={"title": "Delta report on ports", "year": "2024", "type": "IOM submission"},
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    job = wait_for_job(client, r.json()["job_id"])
    assert job["status"] == "done", job
    assert job["report"]["added"] == ["delta.md"] and job["report"]["published"]
    outcome = {d["source"]: d for d in job["report"]["documents"]}["delta.md"]
    assert outcome["status"] == "ok" and outcome["passages"] >= 1
    health = client.get("/health").json()
    assert health["index_version"] == job["report"]["index_version"] != before
    hits = client.post("/ask", json={"question": "Mombasa dockworkers union"}).json()
    top = hits["passages"][0]["citation"]
    assert (top["title"], top["year"]) == ("Delta report on ports", 2024)
    assert (
        'title = "Delta report on ports"' in (admin_settings.corpus_dir / "corpus.toml").read_text()
    )
    assert "alpha.md" in (admin_settings.corpus_dir / "corpus.toml").read_text()


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("slides.pptx", b"PK", 415, "allowed: .md, .pdf, .txt"),
        ("fake.pdf", b"<html>error page</html>", 415, "not a PDF"),
        ("latin.txt", "caf\xe9".encode("latin-1"), 415, "UTF-8"),
        ("big.txt", b"x" * 20_000, 413, "larger than"),
        ("../escape.txt", b"text", 422, "plain name"),
        (".hidden.txt", b"text", 422, "plain name"),
        ("corpus.toml", b"x = 1", 422, "plain name"),
        ("alpha.md", b"# Alpha again", 409, "replace=true"),
    ],
)
def test_bad_uploads_are_refused_and_leave_the_corpus_alone(
    client: TestClient,
    admin_settings: Settings,
    name: str,
    content: bytes,
    status: int,
    message: str,
) -> None:
    listing = sorted(p.name for p in admin_settings.corpus_dir.iterdir())
    manifest = (admin_settings.corpus_dir / "corpus.toml").read_text()
    r = client.post("/admin/documents", files={"file": (name, content)}, headers=AUTH)
    assert r.status_code == status and message in r.json()["detail"]
    assert sorted(p.name for p in admin_settings.corpus_dir.iterdir()) == listing
    assert (admin_settings.corpus_dir / "corpus.toml").read_text() == manifest
    assert not (admin_settings.corpus_dir.parent / "escape.txt").exists()


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/admin/jobs/nope", headers=AUTH).status_code == 404


def test_service_notices_a_new_generation_by_itself(
    client: TestClient, admin_settings: Settings
) -> None:
    before = client.get("/health").json()["index_version"]
    (admin_settings.corpus_dir / "delta.md").write_text(REPORT)
    assert build(admin_settings).published  # an ingest outside the service
    new = current_version(admin_settings.index_dir)
    deadline = time.monotonic() + 10
    while client.get("/health").json()["index_version"] != new:
        assert time.monotonic() < deadline, "the service did not pick up the new index"
        time.sleep(0.1)
    assert new != before
    answer = client.post("/ask", json={"question": "Mombasa dockworkers"}).json()
    assert answer["index_version"] == new
    assert answer["passages"][0]["citation"]["doc_id"] == "delta"


def test_a_corrupt_new_generation_is_refused_and_the_old_one_keeps_serving(
    client: TestClient, admin_settings: Settings
) -> None:
    served = client.get("/health").json()["index_version"]
    index_dir = admin_settings.index_dir
    bad = "29990101T000000000Z-corrupt"
    import shutil

    shutil.copytree(index_dir / GENERATIONS / served, index_dir / GENERATIONS / bad)
    (index_dir / GENERATIONS / bad / "sentences.faiss").write_bytes(b"\0" * 64)
    (index_dir / CURRENT).write_text(bad + "\n")
    r = client.post("/admin/reload", headers=AUTH).json()
    assert r == {"index_version": served, "reloaded": False, "refused": bad}
    time.sleep(0.5)  # the watcher tries too
    assert client.get("/health").json()["index_version"] == served
    assert client.post("/ask", json={"question": "migration"}).status_code == 200


ADMIN_ROUTES = [
    ("POST", "/admin/reload", 200),
    ("POST", "/admin/ingest", 202),
    ("POST", "/admin/documents", 422),  # the token is right; the request has no file
    ("GET", "/admin/jobs/nope", 404),
]


@pytest.mark.parametrize(("method", "path", "ok"), ADMIN_ROUTES)
def test_every_admin_route_needs_the_token(
    client: TestClient, method: str, path: str, ok: int
) -> None:
    missing = client.request(method, path)
    assert missing.status_code == 401 and "bearer token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    for wrong in ("Bearer nope", f"Bearer {TOKEN[:-1]}", f"bearer {TOKEN}", TOKEN, "Bearer "):
        r = client.request(method, path, headers={"Authorization": wrong})
        assert r.status_code in (401, 403), (wrong, r.status_code)
    right = client.request(method, path, headers=AUTH)
    assert right.status_code == ok, right.text
    if ok == 202:
        wait_for_job(client, right.json()["job_id"])


@pytest.mark.parametrize(("method", "path", "ok"), ADMIN_ROUTES)
def test_every_admin_route_is_off_without_a_configured_token(
    small_index: Settings, method: str, path: str, ok: int
) -> None:
    with TestClient(create_app(small_index)) as c:
        for headers in ({}, AUTH):
            r = c.request(method, path, headers=headers)
            assert r.status_code == 404 and "IOMQA_ADMIN_TOKEN" in r.json()["detail"]


def test_the_token_is_compared_in_constant_time() -> None:
    import inspect

    from service.routes import admin

    assert "hmac.compare_digest" in inspect.getsource(admin.require_admin)


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd.txt",
        "/tmp/escape.txt",
        "..%2Fescape.txt",
        "%2e%2e%2fescape.txt",
        "..\\escape.txt",
        "a\x00.txt",
        "escape.txt\x00.pdf",
        "a" * 300 + ".txt",
        "\u2024\u2024\u2215escape.txt",  # one-dot leaders and a division slash
        "\uff0e\uff0e\uff0fescape.txt",  # fullwidth ". . /"
        "escape\u2044x.txt",  # fraction slash
        "r\u00e9sum\u00e9.txt",
        "escape.txt\r\nX-Injected: 1",
        " ",
    ],
)
def test_hostile_file_names_cannot_escape_the_corpus(
    client: TestClient, admin_settings: Settings, name: str
) -> None:
    corpus = admin_settings.corpus_dir
    listing = sorted(p.name for p in corpus.iterdir())
    outside = sorted(p.name for p in corpus.parent.iterdir())
    r = client.post("/admin/documents", files={"file": (name, b"hello")}, headers=AUTH)
    assert r.status_code == 422, (name, r.status_code, r.text)
    assert sorted(p.name for p in corpus.iterdir()) == listing
    assert sorted(p.name for p in corpus.parent.iterdir()) == outside
    assert not (corpus.parent / "escape.txt").exists()


def test_an_upload_may_be_larger_than_the_body_limit_of_other_endpoints(
    admin_settings: Settings,
) -> None:
    settings = admin_settings.model_copy(update={"max_upload_mb": 1, "max_body_bytes": 4096})
    report = (REPORT + "More text about ports and unions.\n" * 3000).encode()
    assert 100_000 < len(report) < 1 << 20
    with TestClient(create_app(settings)) as c:
        r = c.post("/admin/documents", files={"file": ("big.md", report)}, headers=AUTH)
        assert r.status_code == 202, r.text
        assert wait_for_job(c, r.json()["job_id"])["status"] == "done"
        too_big = c.post("/admin/documents", files={"file": ("huge.md", report * 12)}, headers=AUTH)
        assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"]
        assert not (settings.corpus_dir / "huge.md").exists()
        assert c.post("/ask", json={"question": "x" * 5000}).status_code == 413


def test_a_windows_path_keeps_only_its_last_part_inside_the_corpus(
    client: TestClient, admin_settings: Settings
) -> None:
    # The multipart parser keeps what follows the last backslash (old browsers sent paths).
    r = client.post("/admin/documents", files={"file": ("C:\\escape.txt", b"hi")}, headers=AUTH)
    assert r.status_code == 202 and r.json()["source"] == "escape.txt"
    wait_for_job(client, r.json()["job_id"])
    assert (admin_settings.corpus_dir / "escape.txt").read_bytes() == b"hi"
    assert not (admin_settings.corpus_dir.parent / "escape.txt").exists()
