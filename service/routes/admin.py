"""Admin endpoints: reload, upload a document, follow an ingest job. Bearer-token only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from core.errors import NotFound
from core.settings import Settings
from ingest.corpus import SUPPORTED_SUFFIXES, safe_file_name, set_manifest_entry
from service.deps import HolderDep, JobsDep, SettingsDep, require_admin
from service.errors import Responses, error_doc

UPLOAD_PREFIX = "/admin/documents"
UPLOAD_OVERHEAD = 1 << 16  # multipart framing and form fields around an upload
_CHUNK = 1 << 20
_HEAD = 1024  # bytes kept from the start of an upload to check what it is

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={
        401: error_doc("No bearer token"),
        403: error_doc("Wrong token"),
        404: error_doc("Admin endpoints disabled (no IOMQA_ADMIN_TOKEN), or no such job"),
    },
)


@router.post("/reload", responses={503: error_doc("No index could be loaded")})
def reload(holder: HolderDep) -> dict[str, Any]:
    """Load the newest published generation now (the service also checks by itself)."""
    swapped = holder.reload(force=True)
    current = holder.current
    if current is None:
        raise holder.unavailable()
    return {"index_version": current.version, "reloaded": swapped, "refused": holder.refused}


UPLOAD_ERRORS: Responses = {
    409: error_doc("A file of that name exists; send replace=true"),
    413: error_doc("Larger than IOMQA_MAX_UPLOAD_MB"),
    415: error_doc("Not a PDF, .txt or .md file"),
}


@router.post("/documents", status_code=202, responses=UPLOAD_ERRORS)
async def upload_document(
    request: Request,
    settings: SettingsDep,
    jobs: JobsDep,
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
    name, suffix = accepted_name(file.filename or "")
    _refuse_declared_oversize(request.headers.get("content-length"), settings)
    target = settings.corpus_dir / name
    if target.exists() and not replace:
        raise HTTPException(409, detail=f"{name} is already in the corpus; send replace=true")
    entry = manifest_entry(
        doc_id=doc_id,
        title=title,
        year=year,
        series=series,
        number=number,
        publisher=publisher,
        type=type,
        isbn=isbn,
        event=event,
        author=author,
        password=password,
    )
    size = await _store(file, target, suffix, entry, settings)
    job = jobs.submit_ingest({"source": name, "bytes": size, "replaced": replace})
    return JSONResponse(
        status_code=202,
        content={"job_id": job.id, "status": job.status, "source": name, "poll": _poll(job.id)},
    )


def accepted_name(filename: str) -> tuple[str, str]:
    """The corpus file name of an upload and its suffix, if both are allowed."""
    name = safe_file_name(filename)
    if name is None:
        raise HTTPException(
            422,
            detail="file name must be a plain name of letters, digits, spaces and . _ - ( ), "
            "without folders",
        )
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise HTTPException(415, detail=f"unsupported file type {suffix!r}; allowed: {allowed}")
    return name, suffix


def manifest_entry(**metadata: object) -> dict[str, object]:
    """The corpus manifest entry of an upload: the metadata fields that were sent."""
    return {key: value for key, value in metadata.items() if value is not None}


def _too_large(settings: Settings) -> HTTPException:
    return HTTPException(413, detail=f"upload larger than {settings.max_upload_mb:g} MB")


def _refuse_declared_oversize(declared: str | None, settings: Settings) -> None:
    limit = int(settings.max_upload_mb * (1 << 20))
    if declared and declared.isdigit() and int(declared) > limit + UPLOAD_OVERHEAD:
        raise _too_large(settings)


async def _store(
    file: UploadFile, target: Path, suffix: str, entry: dict[str, object], settings: Settings
) -> int:
    """Writes the upload beside its target and moves it into place once it passed every
    check, so the corpus never holds half a file; returns its size in bytes."""
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=settings.corpus_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            size, head = await _copy(file, out, settings)
        _check_content(suffix, head, tmp_name)
        if entry:
            # A CorpusError here is the client's metadata: the error boundary answers 422.
            set_manifest_entry(settings.corpus_dir, target.name, entry)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return size


async def _copy(file: UploadFile, out: BinaryIO, settings: Settings) -> tuple[int, bytes]:
    """Copies the upload to `out` in chunks, refusing it once it passes the size limit;
    returns its size and its first bytes."""
    limit = int(settings.max_upload_mb * (1 << 20))
    size = 0
    head = b""
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(settings)
        if len(head) < _HEAD:
            head += chunk[: _HEAD - len(head)]
        out.write(chunk)
    return size, head


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


def _poll(job_id: str) -> str:
    return f"/admin/jobs/{job_id}"


@router.post("/ingest", status_code=202)
def ingest(jobs: JobsDep) -> JSONResponse:
    """Bring the index up to date with the corpus folder, in the background."""
    job = jobs.submit_ingest({"source": None})
    return JSONResponse(
        status_code=202,
        content={"job_id": job.id, "status": job.status, "poll": _poll(job.id)},
    )


@router.get("/jobs/{job_id}")
def get_job(jobs: JobsDep, job_id: str) -> dict[str, Any]:
    """Progress and, when finished, the per-document outcome of an ingest job."""
    summary = jobs.summary(job_id)
    if summary is None:
        raise NotFound(f"no job {job_id!r}")
    return summary
