"""The FastAPI application, assembled: shared state, middleware, error boundary, routers.

Routes live in `service.routes`, one router per concern; what they share arrives through
`service.deps`; errors become HTTP answers in `service.errors`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from core.settings import Settings, get_settings
from service.errors import INVALID, install_error_handlers
from service.identity import ReplicaName
from service.lifespan import lifespan
from service.mcp.http import mount_mcp
from service.metrics import Metrics
from service.middleware import (
    REPLICA_HEADER,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
)
from service.routes import admin, ask, citations, documents, health, web

ROUTERS = (ask.router, documents.router, citations.router, health.router, admin.router, web.router)


def create_app(
    settings: Settings | None = None, *, replica: str | None = None, pinned: bool = False
) -> FastAPI:
    """The service over `settings` (else the environment's); nothing loads until it starts.

    `replica` names who answers (default: host:pid); `pinned` serves only the generation
    `app.state.holder.load` is given, never following CURRENT (Ray Serve replicas)."""
    app = FastAPI(
        title="iomqa",
        summary="Ranked, cited passages from IOM's International Dialogue on Migration reports.",
        version="0.1.0",
        lifespan=lifespan,
        responses=INVALID,
    )
    app.state.settings = settings = settings or get_settings()
    app.state.pinned = pinned
    app.state.metrics = Metrics(lambda: getattr(app.state, "holder", None), ReplicaName(replica))
    add_middleware(app, settings, app.state.metrics)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", web.static_files, name="static")
    app.state.mcp = mount_mcp(app, settings)
    return app


def add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    # Added innermost first: request ids and metrics see every answer, 413s included.
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Index-Version", REPLICA_HEADER],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=int(settings.max_upload_mb * (1 << 20)) + admin.UPLOAD_OVERHEAD,
        upload_prefix=admin.UPLOAD_PREFIX,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
