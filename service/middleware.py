"""ASGI middlewares: request ids, access logs and metrics; request body size limits."""

from __future__ import annotations

import json
import logging
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import request_id_from, request_id_var
from service.metrics import UNMATCHED, Metrics

access_log = logging.getLogger("iomqa.access")

# On every answer the app itself gives: which replica answered. Its absence on a 5xx also
# tells a proxy that the answer came from the router, not the app (service.replicated).
REPLICA_HEADER = "X-Iomqa-Replica"

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
                return None
    return None


class RequestContextMiddleware:
    """Gives every request an id (the client's X-Request-ID if sane), echoes it in the
    response with the replica's name, logs one access line and records the request in
    the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        replica = self.metrics.replica_bytes()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((REPLICA_HEADER.lower().encode(), replica))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            self.metrics.observe(method, endpoint, status, took)
            access_log.info(
                "%s %s %d %.1f ms",
                method,
                endpoint,
                status,
                took * 1000,
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "endpoint": endpoint,
                    "status": status,
                    "duration_ms": round(took * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit; the app's handler (or
    this middleware, if nothing answered yet) turns it into a 413."""


class BodySizeLimitMiddleware:
    """Refuses request bodies over a limit with 413 before anything parses them: at once
    when Content-Length says so, else as soon as the streamed body passes the limit.
    Paths under `upload_prefix` have their own, larger limit."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_max_bytes: int, upload_prefix: str
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.upload_prefix = upload_prefix

    def _message(self, limit: int) -> str:
        return (
            f"request body larger than {limit} bytes (allowed: at most {self.max_bytes} bytes, "
            f"{self.upload_max_bytes} bytes for uploads to {self.upload_prefix})"
        )

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps({"detail": self._message(limit)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.upload_max_bytes if path.startswith(self.upload_prefix) else self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(413, detail=self._message(limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, limit)
