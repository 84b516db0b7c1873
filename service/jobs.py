"""Background ingest jobs started through the admin API.

Each job's summary is also written to `<index_dir>/jobs/<id>.json`, so that a job
started by one worker process (`iomqa serve --workers N`) or replica can be polled
through any other.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import IomqaError
from core.settings import Settings
from index.build import BuildConfig, BuildReport, build_index
from ingest.embed import make_embedder
from service.reload import SearcherHolder

log = logging.getLogger(__name__)

JOBS_DIR = "jobs"
KEEP_RECORDS = 200  # finished jobs' summaries kept on disk, newest first
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_PROGRESS_EVERY_S = 0.5  # a running job's record is rewritten at most this often


@dataclass
class Job:
    id: str
    kind: str
    status: str = "queued"  # queued | running | done | failed
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    stage: str | None = None
    done: int = 0
    total: int = 0
    error: str | None = None
    report: BuildReport | None = None
    details: dict[str, Any] = field(default_factory=dict)


class JobManager:
    """Ingests run one at a time, in arrival order, on one worker thread."""

    def __init__(self, settings: Settings, holder: SearcherHolder) -> None:
        self._settings = settings
        self._holder = holder
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def _records(self) -> Path:
        return self._settings.index_dir / JOBS_DIR

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def summary(self, job_id: str) -> dict[str, Any] | None:
        """The job's summary, from this process or from the record another one wrote."""
        job = self.get(job_id)
        if job is not None:
            return job_summary(job)
        if not _JOB_ID.fullmatch(job_id):
            return None
        return read_record(self._records / f"{job_id}.json")

    def submit_ingest(self, details: dict[str, Any]) -> Job:
        job = Job(id=uuid.uuid4().hex, kind="ingest", details=details)
        with self._lock:
            self._jobs[job.id] = job
        self._save(job)
        self._pool.submit(self._run, job)
        return job

    def _save(self, job: Job) -> None:
        try:
            write_record(self._records, job.id, job_summary(job))
        except OSError as exc:  # the job goes on; only other processes lose sight of it
            log.warning("could not record job %s: %s", job.id, exc)

    def _run(self, job: Job) -> None:
        job.status = "running"
        self._save(job)
        saved = time.monotonic()

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal saved
            job.stage, job.done, job.total = stage, done, total
            if time.monotonic() - saved >= _PROGRESS_EVERY_S:
                self._save(job)
                saved = time.monotonic()

        try:
            current = self._holder.current
            embedder = (
                current.embedder
                if current is not None and current.embedder.name == self._settings.model
                else make_embedder(self._settings.model, self._settings.model_source)
            )
            job.report = build_index(
                BuildConfig.from_settings(self._settings), embedder, progress, wait=True
            )
            self._holder.reload(force=True)
            job.status = "done"
        except IomqaError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # reported on the job; the service keeps serving
            log.exception("ingest job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()
            self._save(job)
            prune_records(self._records, KEEP_RECORDS)


def job_summary(job: Job) -> dict[str, Any]:
    report = job.report.summary() if job.report is not None else None
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "progress": {"stage": job.stage, "done": job.done, "total": job.total},
        "error": job.error,
        "details": job.details,
        "report": report,
    }


def write_record(folder: Path, job_id: str, summary: dict[str, Any]) -> None:
    """Replace the job's record atomically: a reader sees the old one or the new one."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{job_id}.{os.getpid()}.{threading.get_ident()}.tmp"
    staged.write_text(json.dumps(summary), encoding="utf-8")
    os.replace(staged, folder / f"{job_id}.json")


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record


def prune_records(folder: Path, keep: int) -> None:
    """Drop all but the `keep` most recently written records."""
    records = sorted(folder.glob("*.json"), key=_written_at, reverse=True)
    for old in records[keep:]:
        old.unlink(missing_ok=True)


def _written_at(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # pruned meanwhile by another process
        return 0.0
