"""The service replicated through Ray Serve: the same app (`create_app`) in N replicas.

Generations stay immutable folders on storage every node reads; the driver (`iomqa serve
--ray`) watches CURRENT and redeploys with `user_config={"generation": <version>}`. Serve
then reconfigures the replicas one at a time (its rolling update), each loading exactly
that generation beside the one it serves and swapping when loaded, so no request fails
and no replica follows CURRENT on its own.

A replica that dies takes its in-flight requests with it: Serve's router re-sends only
requests no replica accepted, and the HTTP proxy answers the lost ones with a 500. The
proxy therefore runs `ReplayLostRequests`, which sends a request that only reads once
more when its answer is a 5xx that did not come from the app.

Ray is an optional extra: this module imports without it, and only the functions that
talk to a cluster import it (inside, so `iomqa` runs where Ray is not installed).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.cluster import join
from core.errors import ClusterError, IndexNotFound
from core.settings import Settings
from index.generations import GENERATIONS, current_version
from index.manifest import read_manifest, verify_files
from service import logs
from service.app import create_app
from service.identity import this_process
from service.lifespan import SEARCH_THREADS
from service.middleware import REPLICA_HEADER
from service.reload import SearcherHolder

log = logging.getLogger(__name__)

APP_NAME = "iomqa"
# Read-only POSTs: sending one twice does no harm, so a lost one may be sent again.
READ_ONLY_POSTS = frozenset({"/ask"})
REPLAY_ATTEMPTS = 3
REPLAY_MAX_BODY = 1 << 16  # larger bodies (uploads) are never buffered for a replay
REPLAY_BACKOFF_S = 0.2  # lets the router learn of the death before the next pick
# Serve's proxies take their middlewares from this callback, read from the environment
# the controller (and, inheriting it, each proxy) starts with.
PROXY_ENVIRONMENT = {
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": f"{__name__}:proxy_middlewares",
    # Else the proxy sends every request to the replica on its own node until that one
    # is full (max_ongoing_requests): one busy replica, the others idle. A search costs
    # far more than a hop between nodes, so the shortest queue anywhere wins.
    "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0",
}


class ClusterUnavailable(ClusterError):
    """The cluster was joined but Serve cannot serve there as asked (its HTTP proxy does
    not answer at the address given)."""


class Replica:
    """One Serve replica: the app over a pinned holder. Serve calls `reconfigure` with the
    deployment's user_config when the replica starts and at each redeploy."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: FastAPI | None = None

    def __serve_build_asgi_app__(self) -> FastAPI:
        from ray import serve  # inside: this module imports without Ray

        tag = serve.get_replica_context().replica_id.unique_id
        self._app = create_app(self._settings, replica=f"{tag}@{this_process()}", pinned=True)
        return self._app

    def _holder(self) -> SearcherHolder:
        assert self._app is not None, "the app is built before Serve reconfigures"
        holder: SearcherHolder = self._app.state.holder
        return holder

    async def reconfigure(self, config: dict[str, Any]) -> None:
        version = str(config["generation"])
        holder = self._holder()
        # In a thread: this replica keeps answering from its generation while the next
        # one loads; the swap is one assignment.
        await asyncio.to_thread(holder.load, version)
        served = holder.current
        if served is None:  # nothing to answer with: let Serve replace this replica
            raise holder.unavailable()
        if served.version != version:
            log.error("kept serving %s: %s was refused", served.version, version)

    def check_health(self) -> None:
        holder = self._holder()
        if holder.current is None:
            raise holder.unavailable()


def _replayable(scope: Scope) -> bool:
    method = scope.get("method", "")
    path = scope.get("path", "")
    return method in ("GET", "HEAD") or (method == "POST" and path in READ_ONLY_POSTS)


def _from_app(message: Message) -> bool:
    header = REPLICA_HEADER.lower().encode()
    return any(key.lower() == header for key, _ in message.get("headers", ()))


async def _read_request(receive: Receive) -> tuple[list[Message], bool]:
    """The request's messages, and whether they hold the whole body within the replay
    limit (else what was read so far, for the app to go on from)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, True
        if size > REPLAY_MAX_BODY:
            return messages, False


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives `messages` again, then whatever the client sends next (its
    disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


class ReplayLostRequests:
    """In Serve's HTTP proxy: a request that only reads and is answered with a 5xx the app
    did not give (no replica header: its replica died with it, or no replica could take
    it) is sent again, up to REPLAY_ATTEMPTS times. Nothing reaches the client until an
    attempt is kept; the last attempt's answer is always passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _replayable(scope):
            await self.app(scope, receive, send)
            return
        messages, whole = await _read_request(receive)
        if not whole:
            await self.app(scope, _replaying(messages, receive), send)
            return
        for attempt in range(1, REPLAY_ATTEMPTS):
            if await self._attempt(scope, _replaying(messages, receive), send):
                return
            log.warning("replaying %s %s (attempt %d)", scope["method"], scope["path"], attempt)
            await asyncio.sleep(REPLAY_BACKOFF_S * attempt)
        await self.app(scope, _replaying(messages, receive), send)

    async def _attempt(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True if the answer went to the client; False if it was lost (nothing sent)."""
        lost = False
        sent = False

        async def guarded(message: Message) -> None:
            nonlocal lost, sent
            if message["type"] == "http.response.start" and not sent:
                lost = int(message["status"]) >= 500 and not _from_app(message)
                sent = not lost
            if not lost:
                await send(message)

        try:
            await self.app(scope, receive, guarded)
        except Exception:
            if sent:
                raise
            log.exception("request lost before any answer")
            return False
        return sent and not lost


def proxy_middlewares() -> list[Any]:
    """What Serve's HTTP proxy wraps its app in (called in the proxy: PROXY_CALLBACK)."""
    return [Middleware(ReplayLostRequests)]


def deployment_options(replicas: int, version: str) -> dict[str, Any]:
    """The Serve deployment's options; `version` is the generation every replica loads."""
    return {
        "name": APP_NAME,
        "num_replicas": replicas,
        "user_config": {"generation": version},
        # A core per replica: a search is CPU-bound, two on one core only queue.
        "ray_actor_options": {"num_cpus": 1},
        # Twice the replica's search threads: the next searches wait in the replica, the
        # rest in the router, which sends them to whichever replica frees up first.
        "max_ongoing_requests": 2 * SEARCH_THREADS,
        "health_check_period_s": 2.0,
        "health_check_timeout_s": 10.0,
        # A stopping replica (rolling update, shutdown) finishes what it accepted.
        "graceful_shutdown_wait_loop_s": 0.5,
        "graceful_shutdown_timeout_s": 30.0,
    }


def application(settings: Settings, replicas: int, version: str, code_version: str) -> Any:
    """The Serve application: `Replica` behind `@serve.ingress`, bound to `settings`.

    Deployed again with the same `code_version` and another `version`, Serve changes
    only the user_config: it calls `reconfigure` on the running replicas, one at a time,
    instead of replacing them (which a new random code version, serve.run's default,
    would do: every replica restarted, its model loaded again, one fewer serving
    meanwhile)."""
    from ray import serve  # inside: this module imports without Ray

    # No app given: each replica builds its own (`__serve_build_asgi_app__`), so nothing
    # of a running app is pickled.
    ingress = serve.ingress()(Replica)
    deployment = serve.deployment(**deployment_options(replicas, version))(ingress)
    # `version` is Serve's own (internal) knob since 2.x made it private; the cluster
    # test that switches generations checks the replicas survive the switch.
    pinned = deployment.options(version=code_version, _internal=True)
    return pinned.bind(settings)


def _verified(index_dir: Path, version: str) -> bool:
    """The generation's files match its manifest: checked once here, so a broken one is
    never handed to the replicas (a new replica could not start on it)."""
    try:
        generation = index_dir / GENERATIONS / version
        verify_files(generation, read_manifest(generation))
    except Exception as exc:  # unreadable counts as broken, as in SearcherHolder
        log.error("index %s refused, the replicas keep their generation: %s", version, exc)
        return False
    return True


@dataclass(frozen=True)
class Rollout:
    """What the driver deploys: the app over `settings`, `replicas` times; one
    `code_version` for the driver's lifetime, so redeploys only reconfigure."""

    settings: Settings
    replicas: int
    code_version: str = field(default_factory=lambda: uuid.uuid4().hex)

    def deploy(self, version: str) -> None:
        """Deploy, or move to another generation; returns when every replica serves it."""
        from ray import serve  # inside: this module imports without Ray

        app = application(self.settings, self.replicas, version, self.code_version)
        serve.run(app, name=APP_NAME, route_prefix="/")
        log.warning("%d replicas serve index %s", self.replicas, version)

    def follow(self, served: str, stop: threading.Event) -> None:
        """Redeploy with each new generation CURRENT names, until `stop`."""
        index_dir = self.settings.index_dir
        refused: str | None = None
        while not stop.wait(self.settings.reload_interval or 1.0):
            latest = current_version(index_dir)
            if latest is None or latest in (served, refused):
                continue
            if not _verified(index_dir, latest):
                refused = latest
                continue
            try:
                self.deploy(latest)
                served = latest
            except Exception:  # the driver outlives a failed rollout (`serve status` tells)
                log.exception("rolling out index %s failed", latest)
                refused = latest


def _shut_down() -> None:
    """Delete the application (its replicas finish what they accepted); Serve itself, and
    its proxy's port, go too unless another application still runs on it."""
    from ray import serve  # inside: this module imports without Ray

    try:
        serve.delete(APP_NAME)
        if not serve.status().applications:
            stop_serve: Callable[[], None] = serve.shutdown  # unannotated in Ray: see run()
            stop_serve()
    except Exception:  # shutting down: report, and let ray.shutdown() still run
        log.exception("Serve did not shut down cleanly")


def _check_proxy(host: str, port: int, timeout_s: float = 30.0) -> None:
    """Serve's proxy answers where it was asked to. Serve already running on the cluster
    keeps its own HTTP options (and proxy middlewares): an error then, not a service
    quietly listening elsewhere."""
    url = f"http://{host}:{port}/-/healthz"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ClusterUnavailable(
                f"Serve's HTTP proxy does not answer at {host}:{port}: was Serve already "
                "running on this cluster with other HTTP options? (`serve status`)"
            )
        time.sleep(0.5)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    return stop


def run(
    settings: Settings,
    address: str,
    replicas: int,
    host: str,
    port: int,
    stop: threading.Event | None = None,
) -> None:
    """Serve through Ray Serve on the cluster at `address`, the proxy on `host:port` on
    the head only, until `stop` is set or SIGINT/SIGTERM; then shut the application down."""
    version = current_version(settings.index_dir)
    if version is None:
        raise IndexNotFound(f"no index in {settings.index_dir}: build one with `iomqa ingest`")
    logs.configure_logging(settings.log_level)
    ray = join(address)  # before anything starts: an unusable cluster fails here
    from ray import serve  # inside: this module imports without Ray

    stop = stop or _stop_on_signals()
    try:
        serve.start(
            proxy_location="HeadOnly",
            http_options={"host": host, "port": port},
            controller_options={"runtime_env": {"env_vars": PROXY_ENVIRONMENT}},
        )
        rollout = Rollout(settings, replicas)
        rollout.deploy(version)
        _check_proxy(host, port)
        log.warning("serving on http://%s:%d through Ray Serve", host, port)
        rollout.follow(version, stop)
    finally:
        _shut_down()
        # Typed here: Ray leaves it unannotated, and mypy --strict refuses untyped calls.
        disconnect: Callable[[], None] = ray.shutdown
        disconnect()
