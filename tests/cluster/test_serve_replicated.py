"""`iomqa serve --ray` on the two-node loopback cluster: two replicas answer as the single
process does, and neither a generation switch nor a killed replica fails a request."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from iomqa.bench.ray_cluster import LocalCluster
from iomqa.bench.server import free_port
from service.app import create_app
from tests.conftest import CORPUS, FAKE_MODEL, build, write_small_corpus

pytest.importorskip("ray")

PROXY_HOST = "127.0.0.2"  # the head's loopback address: the proxy runs on the head only
READY = "through Ray Serve"  # the driver's line once every replica serves
QUESTIONS = ("remittances and development", "health of migrants", "diaspora engagement")


@dataclass
class Service:
    url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def service(
    ray_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One driver with two replicas over a private copy of the real corpus (hashing
    embedder), shared by the tests of this module; stopped with SIGTERM at the end."""
    root = tmp_path_factory.mktemp("replicated")
    shutil.copytree(CORPUS, root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model=FAKE_MODEL)
    assert build(settings).published
    port = free_port(PROXY_HOST)
    log = root / "driver.log"
    process = _start_driver(ray_cluster.address, settings, port, log, root / "models")
    service = Service(f"http://{PROXY_HOST}:{port}", settings, process, log)
    try:
        _wait_for(lambda: READY in log.read_text() or process.poll() is not None, 180)
        assert process.poll() is None, log.read_text()[-3000:]
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    assert code == 0, log.read_text()[-3000:]
    with pytest.raises(httpx.TransportError):  # the application, and its proxy, are gone
        httpx.get(f"{service.url}/health", timeout=2)


def _start_driver(
    address: str, settings: Settings, port: int, log: Path, models: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IOMQA_INDEX_DIR": str(settings.index_dir),
        "IOMQA_CORPUS_DIR": str(settings.corpus_dir),
        "IOMQA_MODEL": FAKE_MODEL,
        "IOMQA_MODEL_CACHE_DIR": str(models),
        "IOMQA_RELOAD_INTERVAL": "0.5",
    }
    command = [sys.executable, "-m", "iomqa", "serve", "--ray", address, "--replicas", "2"]
    command += ["--host", PROXY_HOST, "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.25)


def _health_by_replica(url: str, tries: int = 30) -> dict[str, str]:
    """replica name → the generation it serves, from repeated /health answers."""
    seen: dict[str, str] = {}
    with httpx.Client(timeout=10) as client:
        for _ in range(tries):
            body = client.get(f"{url}/health").json()
            seen[body["replica"]] = body["index_version"]
    return seen


@dataclass
class SteadyClient:
    """Threads asking /ask back to back over loopback, counting every outcome."""

    url: str
    threads: int = 2
    outcomes: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                question = f"{QUESTIONS[n % len(QUESTIONS)]} {n}"
                n += self.threads
                try:
                    answer = client.post(f"{self.url}/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.outcomes[str(answer.status_code)] += 1
                if answer.status_code == 200:
                    self.versions[answer.json()["index_version"]] += 1
                else:
                    self.failures.append(f"{answer.status_code} {answer.text[:300]}")

    def __enter__(self) -> SteadyClient:
        self._workers = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)


def _ranking(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(p["passage_id"], p["score"]) for p in body["passages"]]


def test_two_replicas_answer_as_the_single_process_does(service: Service) -> None:
    replicas = _health_by_replica(service.url)
    assert len(replicas) == 2, replicas
    with TestClient(create_app(service.settings)) as local, httpx.Client(timeout=30) as remote:
        for question in QUESTIONS:
            for mode in ("fast", "precise"):
                body = {"question": question, "top_k": 5, "mode": mode}
                expected = local.post("/ask", json=body).json()
                answer = remote.post(f"{service.url}/ask", json=body)
                assert answer.status_code == 200
                assert answer.headers["X-Iomqa-Replica"] in replicas
                got = answer.json()
                assert _ranking(got) == _ranking(expected)
                assert got["confidence"] == expected["confidence"]


def test_the_cluster_talks_over_loopback_only(service: Service, ray_cluster: LocalCluster) -> None:
    pids = {service.process.pid}
    for node in ray_cluster.nodes:
        pids.update(node.tree_pids())
    with SteadyClient(service.url):
        time.sleep(2)
        table = subprocess.run(["ss", "-tnp"], capture_output=True, text=True, check=True)
    ours = [line for line in table.stdout.splitlines() if _pids(line) & pids]
    assert ours, table.stdout
    for line in ours:
        local, peer = line.split()[3:5]
        assert _loopback(local) and _loopback(peer), line


def _pids(line: str) -> set[int]:
    return {int(pid) for pid in re.findall(r"pid=(\d+)", line)}


def _loopback(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")
    return ipaddress.ip_address(host).is_loopback


def test_a_new_generation_reaches_every_replica_without_a_failed_request(
    service: Service,
) -> None:
    before = _health_by_replica(service.url)
    (service.settings.corpus_dir / "switch.md").write_text(
        "# A note on seasonal work\n\nSeasonal workers send remittances home.\n"
    )
    with SteadyClient(service.url) as client:
        time.sleep(1)
        report = build(service.settings)
        assert report.published
        new = report.index_version
        _wait_for(lambda: set(_health_by_replica(service.url, 10).values()) == {new}, 90)
        time.sleep(1)
    assert client.failures == [], client.failures[:5]
    assert client.versions[new] > 0 and len(client.versions) == 2, client.versions
    after = _health_by_replica(service.url)
    assert set(after.values()) == {new}
    # Reconfigured in place, one at a time: the same replicas, now on the new generation.
    assert set(after) == set(before)


def test_a_killed_replica_is_replaced_without_a_failed_request(service: Service) -> None:
    before = _health_by_replica(service.url)
    assert len(before) == 2
    victim = sorted(before)[0]
    pid = int(victim.rsplit(":", 1)[1])
    with SteadyClient(service.url, threads=3) as client:
        time.sleep(1)
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: _replaced(service.url, victim), 120)
        time.sleep(1)
    assert client.failures == [], client.failures[:5]
    assert sum(client.outcomes.values()) > 0


def _replaced(url: str, victim: str) -> bool:
    replicas = _health_by_replica(url, 10)
    return victim not in replicas and len(replicas) == 2


def test_an_unreachable_cluster_is_a_clear_error_before_anything_starts(tmp_path: Path) -> None:
    address = f"127.0.0.2:{free_port('127.0.0.2')}"  # nothing listens there
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    write_small_corpus(settings.corpus_dir)
    assert build(settings).published
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "iomqa", "serve", "--ray", address],
        env={**os.environ, "IOMQA_INDEX_DIR": str(settings.index_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"Ray cluster at {address} is unreachable" in done.stderr
    assert time.monotonic() - started < 60
