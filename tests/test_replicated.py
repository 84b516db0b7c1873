"""The parts of replicated serving that need no cluster: who answered, the pinned holder,
the proxy's replay of lost requests, and running without Ray installed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from core.errors import ClusterError, IndexNotFound
from core.settings import Settings
from index.generations import GENERATIONS, current_version, new_staging, publish
from service.app import create_app
from service.reload import SearcherHolder
from service.replicated import ReplayLostRequests, Replica, Rollout, run
from tests.conftest import build


def test_a_single_process_names_itself_as_the_replica(small_index: Settings) -> None:
    name = f"{socket.gethostname()}:{os.getpid()}"
    with TestClient(create_app(small_index)) as client:
        health = client.get("/health")
        assert health.json()["replica"] == name
        assert health.headers["X-Iomqa-Replica"] == name
        assert (
            client.post("/ask", json={"question": "remittances"}).headers["X-Iomqa-Replica"] == name
        )
        assert f'iomqa_replica_info{{replica="{name}"}} 1.0' in client.get("/metrics").text


def test_a_pinned_holder_serves_only_what_it_is_given(small_index: Settings) -> None:
    first = current_version(small_index.index_dir)
    assert first is not None
    (small_index.corpus_dir / "gamma.md").write_text("# Gamma\n\nBorder data in Gamma.\n")
    second = build(small_index).index_version
    holder = SearcherHolder(small_index.index_dir, small_index.model_source, pinned=True)
    assert holder.reload() is False and holder.current is None  # CURRENT is not followed
    assert holder.load(first) and holder.current is not None
    assert holder.current.version == first  # the older one, though CURRENT names another
    assert holder.load(second) and holder.current.version == second
    assert holder.load("no-such-generation") is False
    assert holder.current.version == second  # a refused generation leaves the served one


def test_a_replica_serves_the_generation_its_config_names(small_index: Settings) -> None:
    version = current_version(small_index.index_dir)
    replica = Replica(small_index)
    app = create_app(small_index, replica="r1", pinned=True)
    replica._app = app  # what __serve_build_asgi_app__ does inside Serve
    with TestClient(app) as client:
        assert client.get("/health").status_code == 503  # pinned: nothing until configured
        with pytest.raises(IndexNotFound):
            replica.check_health()
        asyncio.run(replica.reconfigure({"generation": version}))
        replica.check_health()
        assert client.get("/health").json()["index_version"] == version
        asyncio.run(replica.reconfigure({"generation": "no-such-generation"}))
        assert client.get("/health").json()["index_version"] == version  # kept


@dataclass(frozen=True)
class RecordedRollout(Rollout):
    """Records what it would deploy: the driver's loop without a cluster."""

    deployed: list[str] = field(default_factory=list)

    def deploy(self, version: str) -> None:
        self.deployed.append(version)


def test_the_driver_rolls_out_each_sound_new_generation(small_index: Settings) -> None:
    first = current_version(small_index.index_dir)
    assert first is not None
    settings = small_index.model_copy(update={"reload_interval": 0.05})
    rollout = RecordedRollout(settings, replicas=2)
    stop = threading.Event()
    driver = threading.Thread(target=rollout.follow, args=(first, stop))
    driver.start()
    try:
        (small_index.corpus_dir / "gamma.md").write_text("# Gamma\n\nBorder data in Gamma.\n")
        second = build(small_index).index_version
        _until(lambda: rollout.deployed == [second])
        # A broken generation, broken from the moment CURRENT names it: built sound and
        # then damaged, the driver could deploy it in between.
        staging = new_staging(small_index.index_dir)
        shutil.copytree(small_index.index_dir / GENERATIONS / second, staging, dirs_exist_ok=True)
        (staging / "manifest.json").write_text("{}")
        third = f"{second}-broken"
        publish(small_index.index_dir, staging, third)
        time.sleep(0.5)
        assert rollout.deployed == [second]  # broken: refused
        assert driver.is_alive()
    finally:
        stop.set()
        driver.join()


def _until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _app(answers: list[tuple[int, bool]]) -> tuple[ReplayLostRequests, list[bytes]]:
    """An app giving `answers` in turn: (status, from the app itself); records bodies."""
    bodies: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        bodies.append((await receive())["body"])
        status, own = answers[min(len(bodies), len(answers)) - 1]
        headers = [(b"x-iomqa-replica", b"r1")] if own else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": str(status).encode()})

    return ReplayLostRequests(app), bodies


def test_a_lost_read_is_sent_again() -> None:
    app, bodies = _app([(500, False), (503, False), (200, True)])
    answer = TestClient(app).post("/ask", json={"question": "q"})
    assert answer.status_code == 200
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same body each time


def test_the_last_attempt_is_passed_on() -> None:
    app, bodies = _app([(500, False)])
    assert TestClient(app).get("/health").status_code == 500
    assert len(bodies) == 3


@pytest.mark.parametrize(
    ("method", "path", "answers"),
    [
        ("POST", "/admin/ingest", [(500, False), (200, True)]),  # not only a read
        ("GET", "/health", [(500, True), (200, True)]),  # the app's own answer
        ("GET", "/health", [(404, False), (200, True)]),  # not a server error
    ],
)
def test_what_is_not_sent_again(method: str, path: str, answers: list[tuple[int, bool]]) -> None:
    app, bodies = _app(answers)
    assert TestClient(app).request(method, path).status_code == answers[0][0]
    assert len(bodies) == 1


def test_without_ray_the_error_names_the_extra(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ClusterError, match=r"pip install -e '\.\[ray\]'"):
        run(small_index, "127.0.0.1:6379", 1, "127.0.0.1", 8000, stop=threading.Event())


def test_the_cli_imports_without_ray() -> None:
    code = "import sys; sys.modules['ray'] = None; import iomqa.cli, service.replicated"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
