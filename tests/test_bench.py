"""Benchmark plumbing: statistics, the Markdown section, and the scale run on tiny sizes."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.settings import Settings
from index.generations import GENERATIONS, current_version
from ingest.embed import HashingEmbedder
from iomqa.bench import query, scale
from iomqa.bench import workers as workers_bench
from iomqa.bench.client import Connection
from iomqa.bench.report import BEGIN, END, markdown, splice
from iomqa.bench.stats import percentile


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0


def test_bench_section_replaces_itself_and_keeps_the_rest() -> None:
    results = {"date": "2026-01-01", "machine": "m", "model": "x", "passages": 3}
    section = markdown(results)
    document = splice("# Benchmarks\n\n## Load run\n\nkept\n", section)
    assert "kept" in document and document.count(BEGIN) == 1
    again = splice(document, markdown({**results, "passages": 4}))
    assert again.count(BEGIN) == again.count(END) == 1 and "index of 4 passages" in again


def test_scale_run_builds_and_searches_a_synthetic_generation(
    real_corpus_fake_index: Settings,
) -> None:
    index_dir = real_corpus_fake_index.index_dir
    generation = index_dir / GENERATIONS / str(current_version(index_dir))
    questions = ["remittances during the pandemic", "Mayors Mechanism", "migration data"]
    queries = HashingEmbedder(64).encode(questions)
    [row] = scale.run(
        generation,
        real_corpus_fake_index.model_source,
        questions,
        queries,
        [400],
        ann_min_passages=100,
    )
    assert (row["passages"], row["dense"]["passages"]["kind"]) == (400, "ivf")
    assert row["sentences"] > 400 and row["disk_mb"] > 0
    for key in ("passage_recall_at_10", "sentence_recall_at_10", "end_to_end_recall_at_10"):
        assert 0.0 <= row[key] <= 1.0
    assert row["end_to_end_recall_at_10"] >= 0.5
    assert row["p50_ms"] > 0 and row["no_encode_p50_ms"] > 0
    section = markdown({"date": "d", "machine": "m", "model": "x", "passages": 1, "scale": [row]})
    assert "### Scale" in section and "| 400 passages |" in section


def _stages(encode: float, first: float, rerank: float, total: float) -> dict[str, object]:
    return {
        "mode": "precise",
        "reranked": 8 if rerank else 0,
        "read_whole": 2 if rerank else 0,
        "reranker": "cross-encoder/ms-marco-MiniLM-L-12-v2" if rerank else None,
        "encode_ms": encode,
        "first_stage_ms": first,
        "rerank_ms": rerank,
        "total_ms": total,
        "cached": False,
    }


def test_stage_aggregation_reads_each_answer_s_stages() -> None:
    samples: list[query.Sample] = [
        (12.0, _stages(1.0, 3.0, 5.0, 10.0)),
        (30.0, _stages(2.0, 4.0, 20.0, 27.0)),
        (50.0, None),  # a failed request: counted in HTTP latency and errors only
    ]
    level = query.summarise("precise", 1, samples, wall_s=2.0)
    assert (level["requests"], level["errors"], level["throughput_qps"]) == (3, 1, 1.5)
    assert (level["p50_ms"], level["p99_ms"]) == (30.0, 50.0)
    assert (level["encode_p50_ms"], level["encode_p99_ms"]) == (1.0, 2.0)
    assert (level["first_stage_p50_ms"], level["rerank_p99_ms"]) == (3.0, 20.0)
    assert (level["total_p50_ms"], level["total_p99_ms"]) == (10.0, 27.0)
    assert level["http_overhead_p50_ms"] == 2.0  # per request: 2 and 3
    assert level["rerankers"] == ["cross-encoder/ms-marco-MiniLM-L-12-v2"]
    assert (level["reranked_max"], level["read_whole_max"], level["cached"]) == (8, 2, 0)
    fast = query.summarise("fast", 8, [(5.0, _stages(1.0, 2.0, 0.0, 3.0))], wall_s=1.0)
    assert fast["rerankers"] == [] and fast["rerank_p50_ms"] == 0.0


def _level(mode: str, concurrency: int, p50: float, p99: float) -> dict[str, object]:
    rerank = 3.0 if mode == "precise" else 0.0
    samples: list[query.Sample] = [(p50, _stages(1.0, 2.0, rerank, p50 - 1))] * 98
    samples += [(p99, _stages(1.0, 2.0, rerank, p99 - 1))] * 2
    level = query.summarise(mode, concurrency, samples, wall_s=10.0)
    return level | {"p50_over_encode": 1.0, "p50_over_reference_encode": 1.0, "p99_over_p50": 1.0}


def _query_results(precise_p50: float, precise_p99: float) -> dict[str, object]:
    levels = [
        _level("precise", 1, precise_p50, precise_p99),
        _level("precise", 8, 400.0, 900.0),
        _level("fast", 1, 10.0, 20.0),
        _level("fast", 8, 40.0, 80.0),
    ]
    q = {
        "questions": 50,
        "rounds": 2,
        "top_k": 5,
        "model": "m@onnx",
        "encode_p50_ms": 3.0,
        "encode_p95_ms": 4.0,
        "reference_model": "m",
        "reference_encode_p50_ms": 8.0,
        "levels": levels,
        "budget": query.budget(levels),
    }
    return {"date": "d", "machine": "m", "model": "m@onnx", "passages": 1, "query": q}


def test_report_has_a_row_per_mode_and_concurrency_with_each_stage() -> None:
    section = markdown(_query_results(120.0, 300.0))
    assert "Embedder `m@onnx`" in section
    http_rows = [line for line in section.splitlines() if line.startswith("| precise | `")]
    assert len(http_rows) == 2 and "ms-marco-MiniLM-L-12-v2" in http_rows[0]
    assert "(8 candidates, 2 of them also whole)" in http_rows[0]
    assert "| fast | none | 1 | 100 | 0 |" in section
    # mode, concurrency, then encode, first stage, cross-encoder, total (p50 / p99), overhead
    assert "| precise | 1 | 1.0 / 1.0 | 2.0 / 2.0 | 3.0 / 3.0 | 119.0 / 299.0 | 1.0 |" in section
    assert "| fast | 8 | 1.0 / 1.0 | 2.0 / 2.0 | 0.0 / 0.0 | 39.0 / 79.0 | 1.0 |" in section


def test_budget_line_says_whether_precise_mode_met_it() -> None:
    met = markdown(_query_results(250.0, 600.0))
    assert "p50 ≤ 250 ms and p99 ≤ 600 ms; measured p50 250.0 ms, p99 600.0 ms: **met**" in met
    slow_p50 = markdown(_query_results(251.0, 300.0))
    assert "measured p50 251.0 ms, p99 300.0 ms: **not met**" in slow_p50
    slow_p99 = markdown(_query_results(100.0, 601.0))
    assert ": **not met**" in slow_p99
    # The budget concerns precise mode at concurrency 1 only: the slow c=8 level is ignored.
    assert "**met**" in markdown(_query_results(100.0, 200.0))


def test_report_names_each_embedder_s_ingest_speed() -> None:
    ingest = {
        "documents": 5,
        "passages": 700,
        "texts_embedded": 3000,
        "cold_s": 20.0,
        "parse_s": 0.1,
        "embed_s": 19.0,
        "write_verify_publish_s": 0.9,
        "bare_encode_s": 18.0,
        "cold_over_bare_encode": 1.1,
        "batch_size": 8,
        "texts_per_s_by_batch_size": {"8": 160.0},
        "passages_per_s": 35.0,
        "noop_s": 0.01,
        "noop_embedded": 0,
        "added_report": "a.pdf",
        "added_s": 0.5,
        "added_passages": 20,
        "added_embedded": 20,
        "embedders": [
            {
                "model": "a@onnx",
                "batch_size": 8,
                "texts": 3000,
                "passages": 700,
                "encode_s": 18.0,
                "texts_per_s": 166.7,
                "s_per_1000_passages": 25.7,
            },
            {
                "model": "b@onnx-int8",
                "batch_size": 8,
                "texts": 3000,
                "passages": 700,
                "encode_s": 30.0,
                "texts_per_s": 100.0,
                "s_per_1000_passages": 42.9,
            },
        ],
    }
    section = markdown({"date": "d", "machine": "m", "model": "x", "passages": 1, "ingest": ingest})
    assert "| `a@onnx` | 8 | 3000 | 167 | 25.7 |" in section
    assert "| `b@onnx-int8` | 8 | 3000 | 100 | 42.9 |" in section


def test_capacity_is_the_cores_running_requests_back_to_back() -> None:
    assert workers_bench.capacity_qps(2, 10.0) == 200.0
    assert workers_bench.capacity_qps(2, 0.0) == 0.0


def test_workers_section_gives_each_level_its_share_of_capacity() -> None:
    row = {
        "workers": 2,
        "mode": "fast",
        "concurrency": 8,
        "requests": 400,
        "errors": 0,
        "throughput_qps": 160.0,
        "p50_ms": 45.0,
        "p99_ms": 90.0,
        "capacity_qps": 200.0,
        "share": 0.8,
        "server_capacity_qps": 250.0,
        "server_share": 0.64,
    }
    w = {
        "cores": 2,
        "request_cpu_ms": {"fast": 10.0},
        "server_cpu_ms": {"fast": 8.0},
        "target_share": 0.8,
        "rows": [row],
    }
    section = markdown({"date": "d", "machine": "m", "model": "x", "passages": 1, "workers": w})
    assert "### Workers on one machine" in section and "fast 10.0 ms" in section
    assert "fast 8.0 ms" in section
    assert "| 2 | fast | 400 | 0 | 160.0 | 45.0 | 90.0 | 200.0 | 0.80 | 250.0 | 0.64 |" in section


def test_the_bench_client_keeps_one_connection_and_reopens_a_broken_one() -> None:
    peers: list[tuple[str, int]] = []

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:
            peers.append(self.client_address)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Connection(f"http://127.0.0.1:{server.server_port}") as client:
            assert client.post_json("/ask", {"q": 1}) == (200, b'{"q": 1}')
            assert client.post_json("/ask", {"q": 2})[0] == 200
            assert peers[0] == peers[1]  # the same connection both times
            client._conn.sock.close()  # type: ignore[union-attr]  # broken under it
            with pytest.raises((OSError, http.client.HTTPException)):
                client.post_json("/ask", {"q": 3})
            assert client.post_json("/ask", {"q": 4}) == (200, b'{"q": 4}')
    finally:
        server.shutdown()
