"""The MCP server as streamable HTTP at /mcp in the service, behind a bearer token.

Off unless IOMQA_MCP=1. The token is IOMQA_MCP_TOKEN, and IOMQA_ADMIN_TOKEN is accepted
too; with neither set the endpoint is open, as /ask is: every tool only reads.
"""

from __future__ import annotations

import hmac
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.settings import Settings
from index.searcher import Searcher
from service.mcp.server import create_server, served

MCP_PATH = "/mcp"
MCP_METHODS = ["GET", "POST", "DELETE"]  # the streamable HTTP transport's three


class BearerGuard:
    """Lets a request through to `app` only with one of `tokens`; none: everyone."""

    def __init__(self, app: ASGIApp, tokens: list[str]) -> None:
        self._app = app
        self._tokens = [t.encode() for t in tokens]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(Headers(scope=scope).get("authorization"))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _refusal(self, authorization: str | None) -> JSONResponse | None:
        if not self._tokens:
            return None
        if not authorization or not authorization.startswith("Bearer "):
            return JSONResponse(
                {"detail": "missing bearer token: send 'Authorization: Bearer <IOMQA_MCP_TOKEN>'"},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = authorization.removeprefix("Bearer ").strip().encode()
        # Every token compared, so the time taken does not tell which one nearly matched.
        matches = [hmac.compare_digest(given, token) for token in self._tokens]
        return None if any(matches) else JSONResponse({"detail": "wrong MCP token"}, 403)


def accepted_tokens(settings: Settings) -> list[str]:
    secrets = (settings.mcp_token, settings.admin_token)
    return [s.get_secret_value() for s in secrets if s is not None]


def mount_mcp(app: FastAPI, settings: Settings) -> MCPServer[Any] | None:
    """Adds /mcp to `app` when IOMQA_MCP is on; the server returned is run by `mcp_sessions`
    in the app's lifespan."""
    if not settings.mcp:
        return None

    def searcher() -> Searcher:
        return served(app.state.holder)

    server = create_server(searcher, settings.public_url)
    tokens = accepted_tokens(settings)
    # A page whose name was rebound to this host (DNS rebinding) cannot know a token. Open,
    # the endpoint has the SDK check Host and Origin when the service binds to loopback.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False) if tokens else None
    transport = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=settings.host,
        transport_security=security,
        # A session lives in one process: behind several workers or replicas, its next
        # request may reach another. The tools keep no state, so each request stands alone.
        stateless_http=settings.workers > 1 or settings.ray_address is not None,
    )
    guarded = BearerGuard(transport, tokens)
    app.router.routes.append(Route(MCP_PATH, guarded, methods=MCP_METHODS))
    return server


def mcp_sessions(app: FastAPI) -> AbstractAsyncContextManager[None]:
    """The MCP sessions' task group, for the app's lifespan; nothing when /mcp is off."""
    server: MCPServer[Any] | None = getattr(app.state, "mcp", None)
    if server is None:
        return nullcontext()
    return server.session_manager.run()
