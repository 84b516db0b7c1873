"""The one place where errors become HTTP answers, and where their shape is documented.

Every error answer is JSON `{"detail": "<what went wrong and what is allowed>"}`; a 422
adds `errors`, the individual validation problems. Domain errors (`core.errors`) map to
a status by class in `STATUS`, so routes raise what went wrong, not how to say it in HTTP.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from core.errors import (
    ClusterError,
    CorpusError,
    DocumentError,
    IndexCorrupt,
    IndexNotFound,
    IngestLocked,
    IomqaError,
    ModelError,
    NotFound,
)
from service.schemas import ALLOWED, ErrorOut, ValidationErrorOut

log = logging.getLogger(__name__)

# A subclass not listed answers with its nearest listed ancestor's status.
STATUS: dict[type[IomqaError], int] = {
    NotFound: 404,
    IngestLocked: 409,
    CorpusError: 422,  # a client's upload whose metadata the corpus manifest refuses
    DocumentError: 422,
    IndexNotFound: 503,
    IndexCorrupt: 503,
    ModelError: 503,
    ClusterError: 503,  # the cluster behind the service, not the client, is at fault
}
UNEXPECTED = 500

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_MOUNT_METHODS = ("GET", "HEAD")  # the one mounted app serves static files


def status_for(error: IomqaError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return UNEXPECTED


def error_doc(description: str | None = None) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an error answer."""
    doc: dict[str, Any] = {"model": ErrorOut}
    if description is not None:
        doc["description"] = description
    return doc


Responses = dict[int | str, dict[str, Any]]

INVALID: Responses = {422: {"model": ValidationErrorOut, "description": "Invalid request"}}
UNAVAILABLE: Responses = {503: error_doc("No index loaded, or the search overran")}
NOT_FOUND: Responses = {404: error_doc(), **UNAVAILABLE}
TOO_LARGE: Responses = {413: error_doc("Body over IOMQA_MAX_BODY_BYTES"), **UNAVAILABLE}


def json_ascii(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    """JSON escaped to ASCII: safe for echoed input holding lone surrogates."""
    body = json.dumps(jsonable_encoder(content), ensure_ascii=True, default=str)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def validation_message(errors: list[Any]) -> str:
    """Every problem in one line, each with what is allowed where the field has a rule."""
    parts = []
    for error in errors:
        loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path")]
        name = loc[-1] if loc else "request"
        allowed = ALLOWED.get(name)
        message = f"{name}: {error.get('msg', 'invalid')}"
        parts.append(f"{message} (allowed: {allowed})" if allowed else message)
    return "; ".join(parts) or "invalid request"


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this request's path.

    Asked of every route with each method in turn: routers included in the app keep
    their routes to themselves, and Starlette names only the first route's methods.
    """
    # Inside a mount the scope's root_path names the mount; the app's routes need the app's.
    root_path = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method, "root_path": root_path}
        for route in request.app.router.routes:
            if isinstance(route, Mount) and method not in _MOUNT_METHODS:
                continue  # a mount matches its paths whatever the method
            if route.matches(scope)[0] == Match.FULL:
                allowed.append(method)
                break
    return allowed


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # A body FastAPI could not even decode (not UTF-8, broken multipart): the same
        # 422 as any other body that does not fit.
        return json_ascii(
            422,
            {
                "detail": f"body: could not be parsed ({type(exc.__cause__).__name__}) "
                "(allowed: a UTF-8 JSON object such as "
                '{"question": "...", "top_k": 5})',
            },
        )
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        return JSONResponse(
            status_code=405,
            content={
                "detail": f"method {request.method} not allowed here "
                f"(allowed: {', '.join(allowed)})"
            },
            headers={"Allow": ", ".join(allowed)},
        )
    return await http_exception_handler(request, exc)


async def invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return json_ascii(422, {"detail": validation_message(errors), "errors": errors})


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IomqaError)
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return json_ascii(status, {"detail": str(exc)})


def install_error_handlers(app: FastAPI) -> None:
    """The error boundary: every error answer of `app` is made here, and documented so."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(IomqaError, domain_error)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors_as_json(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def errors_as_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error answers are JSON even where the success is plain text (FastAPI files them
    under the route's media type)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in "45" and "text/plain" in content:
                    content["application/json"] = content.pop("text/plain")
    return schema
