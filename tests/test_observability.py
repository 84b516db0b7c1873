"""Request ids, structured JSON logs and Prometheus metrics."""

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from service.app import create_app
from service.logs import JsonFormatter, RequestIdFilter, configure_logging


@pytest.fixture
def client(small_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(small_index.model_copy(update={"reload_interval": 0}))) as c:
        yield c


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_a_sane_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Request-ID": "batch-7.q:42"})
    assert r.headers["x-request-id"] == "batch-7.q:42"


@pytest.mark.parametrize(
    "given", [b"", b"has spaces", b"x" * 200, b"<script>", "ünïcode".encode(), b"semi;colon"]
)
def test_an_odd_request_id_is_replaced(client: TestClient, given: bytes) -> None:
    r = client.get("/health", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


def test_every_response_gets_a_fresh_id(client: TestClient) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    ids.add(client.get("/no/such/path").headers["x-request-id"])
    assert len(ids) == 4


def test_log_lines_are_json_with_the_request_id(client: TestClient, log_lines: io.StringIO) -> None:
    client.post("/ask", json={"question": "remittances"}, headers={"X-Request-ID": "req-1"})
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [e for e in lines if e["logger"] == "iomqa.access"]
    assert access and access[-1]["request_id"] == "req-1"
    assert access[-1]["status"] == 200 and access[-1]["endpoint"] == "/ask"
    assert access[-1]["method"] == "POST" and access[-1]["duration_ms"] >= 0
    assert {"time", "level", "message"} <= set(access[-1])


def test_logs_outside_a_request_say_so(log_lines: io.StringIO) -> None:
    logging.getLogger("iomqa.test").warning("no request here")
    entry = json.loads(log_lines.getvalue().splitlines()[-1])
    assert entry["request_id"] == "-" and entry["message"] == "no request here"


def test_configure_logging_writes_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("INFO")
        logging.getLogger("uvicorn.error").info("started")
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(err)["message"] == "started"
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    for _ in range(2):
        client.post("/ask", json={"question": "remittances"})
    client.get("/passages/does-not-exist")
    client.get("/passages/nor-this")
    client.get("/random/path/123")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)

    def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
        return (name, frozenset(labels.items()))

    assert m[key("iomqa_http_requests_total", method="POST", endpoint="/ask", status="200")] == 2
    assert (
        m[
            key(
                "iomqa_http_requests_total",
                method="GET",
                endpoint="/passages/{passage_id}",
                status="404",
            )
        ]
        == 2
    )
    assert m[key("iomqa_http_requests_total", method="GET", endpoint="unmatched", status="404")]
    count = key(
        "iomqa_http_request_duration_seconds_count", method="POST", endpoint="/ask", status="200"
    )
    assert m[count] == 2
    assert not any("does-not-exist" in str(labels) for _, labels in m)


def test_metrics_describe_the_served_index(client: TestClient) -> None:
    health = client.get("/health").json()
    m = samples(client.get("/metrics").text)
    version = health["index_version"]
    assert m[("iomqa_index_info", frozenset({("version", version), ("model", "hashing-64")}))] == 1
    assert m[("iomqa_index_documents", frozenset())] == health["documents"]
    assert m[("iomqa_index_passages", frozenset())] == health["passages"]
    assert m[("iomqa_index_loaded", frozenset())] == 1
    assert m[("iomqa_index_loaded_timestamp_seconds", frozenset())] > 1.7e9


def test_two_apps_keep_separate_metrics(small_index: Settings) -> None:
    with (
        TestClient(create_app(small_index)) as a,
        TestClient(create_app(small_index)) as b,
    ):
        a.get("/health")
        a.get("/health")
        b.get("/health")
        key = (
            "iomqa_http_requests_total",
            frozenset({("method", "GET"), ("endpoint", "/health"), ("status", "200")}),
        )
        assert samples(a.get("/metrics").text)[key] == 2
        assert samples(b.get("/metrics").text)[key] == 1
