"""`iomqa serve --workers N`: several processes behind one port, one service to clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from iomqa.bench.server import running_server
from iomqa.serving import worker_environment
from service.jobs import prune_records, read_record, write_record
from tests.test_mcp import TOKEN, full_session, over_http

ADMIN = "s3cret-token"


def test_workers_split_the_cores_between_their_models() -> None:
    added = worker_environment(2, 2, {})
    assert added == {"IOMQA_WORKERS": "2", "IOMQA_MODEL_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert worker_environment(4, 2, {})["IOMQA_MODEL_THREADS"] == "1"  # never 0
    assert worker_environment(2, 8, {})["OMP_NUM_THREADS"] == "4"


def test_an_operators_thread_settings_are_kept() -> None:
    added = worker_environment(2, 8, {"IOMQA_MODEL_THREADS": "3", "OMP_NUM_THREADS": "2"})
    assert added == {"IOMQA_WORKERS": "2"}


def test_job_records_are_replaced_whole_and_pruned(tmp_path: Path) -> None:
    write_record(tmp_path, "a" * 32, {"status": "running"})
    write_record(tmp_path, "a" * 32, {"status": "done"})
    assert read_record(tmp_path / f"{'a' * 32}.json") == {"status": "done"}
    assert not list(tmp_path.glob("*.tmp"))
    for i in range(5):
        write_record(tmp_path, f"{i:032x}", {"n": i})
        time.sleep(0.01)  # distinct modification times
    prune_records(tmp_path, 3)
    kept = sorted(p.stem for p in tmp_path.glob("*.json"))
    assert kept == [f"{i:032x}" for i in (2, 3, 4)]
    assert read_record(tmp_path / "missing.json") is None


@pytest.fixture(scope="module")
def two_workers(real_corpus_fake_index: Settings) -> Iterator[str]:
    with running_server(
        real_corpus_fake_index,
        IOMQA_WORKERS="2",
        IOMQA_ADMIN_TOKEN=ADMIN,
        IOMQA_MCP="1",
        IOMQA_MCP_TOKEN=TOKEN,
    ) as url:
        yield url


def _replicas_seen(url: str, path: str, requests: int) -> tuple[set[str], list[int]]:
    """Replicas that answered `requests` concurrent GETs, each on a new connection."""

    def one(_: int) -> tuple[str, int]:
        r = httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
        return r.headers.get("x-iomqa-replica", ""), r.status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(requests)))
    return {replica for replica, _ in answers}, [status for _, status in answers]


def test_two_workers_answer_behind_one_port(two_workers: str) -> None:
    replicas, statuses = _replicas_seen(two_workers, "/health", 200)
    assert set(statuses) == {200}
    assert len(replicas) == 2, replicas  # the kernel hands connections to both processes
    asked = httpx.post(f"{two_workers}/ask", json={"question": "IOM Council", "top_k": 3})
    assert asked.status_code == 200 and len(asked.json()["passages"]) == 3


def test_a_job_started_in_one_worker_is_polled_through_any(two_workers: str) -> None:
    started = httpx.post(
        f"{two_workers}/admin/ingest", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert started.status_code == 202
    poll = started.json()["poll"]
    deadline = time.monotonic() + 120
    while True:
        replicas, statuses = _replicas_seen(two_workers, poll, 16)
        assert set(statuses) == {200}  # never a 404 from the worker that did not start it
        job = httpx.get(f"{two_workers}{poll}", headers={"Authorization": f"Bearer {ADMIN}"})
        if job.json()["status"] in {"done", "failed"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job.json()["status"] == "done", job.json()
    assert job.json()["report"]["up_to_date"] is True
    replicas, statuses = _replicas_seen(two_workers, poll, 40)
    assert set(statuses) == {200} and len(replicas) == 2


def test_an_assistant_session_spans_the_workers(two_workers: str) -> None:
    # Each MCP request may reach another process: every tool still answers.
    over_http(two_workers, lambda session: full_session(session, two_workers))
