"""GET /health for load balancers and GET /metrics for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from service.deps import HolderDep, MetricsDep
from service.errors import UNAVAILABLE
from service.metrics import CONTENT_TYPE
from service.reload import NO_INDEX
from service.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, responses=UNAVAILABLE)
def health(holder: HolderDep, metrics: MetricsDep) -> Any:
    served = holder.current
    replica = str(metrics.replica)
    if served is None:
        # The error shape, plus the fields a probe reads from a healthy answer.
        return JSONResponse(
            status_code=503,
            content={
                "detail": holder.error or NO_INDEX,
                "status": "unavailable",
                "index_version": None,
                "replica": replica,
            },
        )
    return Health(
        status="ok",
        index_version=served.version,
        replica=replica,
        documents=served.manifest.documents,
        passages=served.manifest.passages,
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def get_metrics(metrics: MetricsDep) -> Response:
    """Request counts and latencies by route and status, and the served index."""
    return Response(metrics.render(), media_type=CONTENT_TYPE)
