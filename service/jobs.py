"""Background ingest jobs started through the admin API."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.errors import IomqaError
from core.settings import Settings
from index.build import BuildConfig, BuildReport, build_index
from ingest.embed import make_embedder
from service.reload import SearcherHolder

log = logging.getLogger(__name__)


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

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def submit_ingest(self, details: dict[str, Any]) -> Job:
        job = Job(id=uuid.uuid4().hex, kind="ingest", details=details)
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: Job) -> None:
        job.status = "running"

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

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
