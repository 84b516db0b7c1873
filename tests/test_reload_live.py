"""A client keeps asking while a report is added and the running service reloads:
not one request fails, and the new report is found without a restart."""

import threading
import time

import httpx

from core.settings import Settings
from iomqa.bench.server import running_server
from tests.conftest import build

REPORT = "# Epsilon\n\n## 1. Findings\n\nSeasonal orchard workers from Lesotho earned 40% more.\n"


def test_zero_failed_requests_across_an_add_and_reload(own_real_corpus_index: Settings) -> None:
    settings = own_real_corpus_index
    with running_server(settings, IOMQA_RELOAD_INTERVAL="0.5") as url:
        first = httpx.get(f"{url}/health", timeout=5).json()["index_version"]
        results: list[tuple[int, str]] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/ask", json={"question": "orchard workers Lesotho"})
                        results.append((r.status_code, r.json().get("index_version", "")))
                    except httpx.HTTPError as exc:
                        results.append((0, repr(exc)))

        workers = [threading.Thread(target=client) for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(1)
        (settings.corpus_dir / "epsilon.md").write_text(REPORT)
        report = build(settings)
        assert report.added == ["epsilon.md"] and report.published
        deadline = time.monotonic() + 15
        while httpx.get(f"{url}/health").json()["index_version"] != report.index_version:
            assert time.monotonic() < deadline, "service did not reload"
            time.sleep(0.1)
        time.sleep(1)
        stop.set()
        for w in workers:
            w.join(timeout=30)
        failures = [r for r in results if r[0] != 200]
        assert not failures, failures[:5]
        versions = {v for _, v in results}
        assert versions == {first, report.index_version}
        assert len(results) > 20
        answer = httpx.post(f"{url}/ask", json={"question": "orchard workers Lesotho"}).json()
        assert answer["passages"][0]["citation"]["doc_id"] == "epsilon"
