"""Admin endpoints: reload, upload a document, follow an ingest job. Bearer-token only."""

from __future__ import annotations

import hmac
import os
import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from core.errors import CorpusError
from core.settings import Settings
from ingest.corpus import SUPPORTED_SUFFIXES, safe_file_name, set_manifest_entry
from service.jobs import JobManager, job_summary
from service.reload import SearcherHolder
from service.schemas import ErrorOut

_CHUNK = 1 << 20


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    token = _settings(request).admin_token
    if token is None:
        raise HTTPException(404, detail="admin endpoints are disabled: set IOMQA_ADMIN_TOKEN")
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(
            401,
            detail="missing bearer token: send 'Authorization: Bearer <IOMQA_ADMIN_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = authorization.removeprefix("Bearer ").strip().encode()
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        raise HTTPException(403, detail="wrong admin token")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={
        401: _error("No bearer token"),
        403: _error("Wrong token"),
        404: _error("Admin endpoints disabled (no IOMQA_ADMIN_TOKEN), or no such job"),
    },
)


@router.post("/reload", responses={503: _error("No index could be loaded")})
def reload(request: Request) -> dict[str, Any]:
    """Load the newest published generation now (the service also checks by itself)."""
    holder: SearcherHolder = request.app.state.holder
    swapped = holder.reload(force=True)
    current = holder.current
    if current is None:
        raise HTTPException(503, detail=holder.error or "no index loaded")
    return {"index_version": current.version, "reloaded": swapped, "refused": holder.refused}


@router.post(
    "/documents",
    status_code=202,
    responses={
        409: _error("A file of that name exists; send replace=true"),
        413: _error("Larger than IOMQA_MAX_UPLOAD_MB"),
        415: _error("Not a PDF, .txt or .md file"),
    },
)
async def upload_document(
    request: Request,
    file: Annotated[UploadFile, File(description="A PDF, .txt or .md report")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    series: Annotated[str | None, Form(max_length=300)] = None,
    number: Annotated[int | None, Form(ge=0, le=100_000)] = None,
    publisher: Annotated[str | None, Form(max_length=300)] = None,
    type: Annotated[str | None, Form(max_length=100)] = None,
    isbn: Annotated[str | None, Form(max_length=40)] = None,
    event: Annotated[str | None, Form(max_length=500)] = None,
    author: Annotated[str | None, Form(max_length=300)] = None,
    doc_id: Annotated[str | None, Form(pattern=r"^[a-z0-9][a-z0-9-]{0,80}$")] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    replace: Annotated[bool, Form()] = False,
) -> JSONResponse:
    """Store a document in the corpus and ingest it in the background; poll the job."""
    settings = _settings(request)
    name = safe_file_name(file.filename or "")
    allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if name is None:
        raise HTTPException(
            422,
            detail="file name must be a plain name of letters, digits, spaces and . _ - ( ), "
            "without folders",
        )
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, detail=f"unsupported file type {suffix!r}; allowed: {allowed}")
    limit = int(settings.max_upload_mb * (1 << 20))
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + (1 << 16):
        raise HTTPException(413, detail=f"upload larger than {settings.max_upload_mb:g} MB")
    target = settings.corpus_dir / name
    if target.exists() and not replace:
        raise HTTPException(409, detail=f"{name} is already in the corpus; send replace=true")
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=settings.corpus_dir)
    try:
        size = 0
        head = b""
        with os.fdopen(fd, "wb") as out:
            while chunk := await file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(
                        413, detail=f"upload larger than {settings.max_upload_mb:g} MB"
                    )
                if len(head) < 1024:
                    head += chunk[: 1024 - len(head)]
                out.write(chunk)
        _check_content(suffix, head, tmp_name)
        metadata = {
            "doc_id": doc_id,
            "title": title,
            "year": year,
            "series": series,
            "number": number,
            "publisher": publisher,
            "type": type,
            "isbn": isbn,
            "event": event,
            "author": author,
            "password": password,
        }
        entry: dict[str, object] = {k: v for k, v in metadata.items() if v is not None}
        if entry:
            try:
                set_manifest_entry(settings.corpus_dir, name, entry)
            except CorpusError as exc:
                raise HTTPException(422, detail=str(exc)) from exc
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    jobs: JobManager = request.app.state.jobs
    job = jobs.submit_ingest({"source": name, "bytes": size, "replaced": replace})
    return JSONResponse(
        status_code=202,
        content={
            "job_id": job.id,
            "status": job.status,
            "source": name,
            "poll": f"/admin/jobs/{job.id}",
        },
    )


def _check_content(suffix: str, head: bytes, path: str) -> None:
    if suffix == ".pdf":
        if b"%PDF-" not in head:
            raise HTTPException(415, detail="the file is not a PDF (no %PDF- header)")
        return
    try:
        with open(path, "rb") as handle:
            handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(415, detail=f"{suffix} files must be UTF-8 text") from exc


@router.post("/ingest", status_code=202)
def ingest(request: Request) -> JSONResponse:
    """Bring the index up to date with the corpus folder, in the background."""
    jobs: JobManager = request.app.state.jobs
    job = jobs.submit_ingest({"source": None})
    return JSONResponse(
        status_code=202,
        content={"job_id": job.id, "status": job.status, "poll": f"/admin/jobs/{job.id}"},
    )


@router.get("/jobs/{job_id}")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """Progress and, when finished, the per-document outcome of an ingest job."""
    jobs: JobManager = request.app.state.jobs
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, detail=f"no job {job_id!r}")
    return job_summary(job)
