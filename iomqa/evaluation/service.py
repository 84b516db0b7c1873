"""Systems to evaluate: the service through HTTP, and the window baselines."""

from __future__ import annotations

import atexit
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

from core.records import Mode
from core.settings import Settings
from index.searcher import Searcher
from iomqa.evaluation.baselines import WindowBaseline
from iomqa.evaluation.harness import Answer, Ask
from service.app import create_app


def _answer(body: dict[str, Any], took_ms: float) -> Answer:
    passages = body["passages"]
    confidence = body.get("confidence")
    if confidence is None:
        confidence = passages[0]["score"] if passages else 0.0
    return Answer([p["text"] for p in passages], float(confidence), took_ms)


def service_system(settings: Settings, url: str | None = None, mode: Mode = Mode.PRECISE) -> Ask:
    """POST /ask in `mode`, in process (TestClient) or against a running server at `url`."""
    client: httpx.Client | TestClient
    if url:
        client = httpx.Client(base_url=url, timeout=60)
    else:
        client = TestClient(create_app(settings))
        client.__enter__()
        atexit.register(client.__exit__, None, None, None)

    def ask(question: str, k: int) -> Answer:
        started = time.perf_counter()
        response = client.post("/ask", json={"question": question, "top_k": k, "mode": mode})
        response.raise_for_status()
        return _answer(response.json(), (time.perf_counter() - started) * 1000)

    return ask


def baseline_systems(settings: Settings) -> list[tuple[str, Ask]]:
    searcher = Searcher.open_current(settings.index_dir, settings.model_source)
    texts = [searcher.document_text(d.doc_id) or "" for d in searcher.documents()]
    return [(b.name, b.ask) for b in WindowBaseline.build_all(texts, searcher.embedder)]
