"""Load run: locust users against a real `iomqa serve` on loopback while an index reload
happens, then latency percentiles into a markdown report.

    .venv/bin/python -m iomqa.bench.load                 # 8 users, 60 s, packaged model
    .venv/bin/python -m iomqa.bench.load --model hashing-64 --users 2 --duration 5

Steps: copy the corpus to a scratch folder, `iomqa ingest` it, start `iomqa serve` on a
free loopback port (watching for new generations every second), run locust headless for
the duration; at `--reload-at` seconds a new report is added to the corpus and ingested,
and the service picks the new generation up by itself. Exits 1 if any request failed or
the reload was not seen.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from iomqa.bench.report import splice
from iomqa.bench.server import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NEW_REPORT = """# Load-run report

## 1. Findings

Seasonal orchard workers from Lesotho earned forty per cent more during the pilot.
"""
PERCENTILES = ("50%", "90%", "95%", "99%", "100%")
LOAD_BEGIN = "<!-- iomqa.bench.load: begin -->"
LOAD_END = "<!-- iomqa.bench.load: end -->"


@dataclass
class Row:
    name: str
    requests: int
    failures: int
    rps: float
    average_ms: float
    percentiles_ms: dict[str, float]


@dataclass
class Outcome:
    rows: list[Row]
    first_version: str
    reloaded_version: str | None
    reload_seconds: float | None
    ingest_seconds: float | None
    locust_exit: int
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> Row:
        return next(r for r in self.rows if r.name == "Aggregated")

    @property
    def ok(self) -> bool:
        return self.total.failures == 0 and self.reloaded_version is not None


def health(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return dict(json.loads(r.read()))
    except OSError:
        return None


def iomqa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iomqa", *args], env=env, capture_output=True, text=True
    )


def read_stats(path: Path) -> list[Row]:
    rows = []
    with path.open(newline="") as handle:
        for r in csv.DictReader(handle):
            name = r["Name"]
            rows.append(
                Row(
                    name=name,
                    requests=int(r["Request Count"]),
                    failures=int(r["Failure Count"]),
                    rps=float(r["Requests/s"]),
                    average_ms=float(r["Average Response Time"]),
                    percentiles_ms={
                        p: float(r[p]) if r[p] not in ("", "N/A") else 0.0 for p in PERCENTILES
                    },
                )
            )
    return rows


def run(args: argparse.Namespace) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="iomqa-load-"))
    try:
        corpus = work / "corpus"
        shutil.copytree(args.corpus, corpus)
        env = {
            **os.environ,
            "IOMQA_CORPUS_DIR": str(corpus),
            "IOMQA_INDEX_DIR": str(work / "index"),
            "IOMQA_MODEL": args.model,
            "IOMQA_RELOAD_INTERVAL": "1",
            "IOMQA_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        for item in args.server_env:
            key, _, value = item.partition("=")
            env[key] = value
        built = iomqa("ingest", env=env)
        if built.returncode != 0:
            raise SystemExit(f"ingest failed:\n{built.stderr}")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (work / "server.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "iomqa", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            return _load(args, url, env, corpus, work)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load(
    args: argparse.Namespace, url: str, env: dict[str, str], corpus: Path, work: Path
) -> Outcome:
    deadline = time.monotonic() + 180
    while (h := health(url)) is None or h.get("status") != "ok":
        if time.monotonic() > deadline:
            raise SystemExit("the service did not become healthy")
        time.sleep(0.3)
    first = str(h["index_version"])
    seen: dict[str, float | str | None] = {"version": None, "reload_s": None, "ingest_s": None}
    started = time.monotonic()

    def add_report() -> None:
        time.sleep(args.reload_at)
        (corpus / "load-run-report.md").write_text(NEW_REPORT, encoding="utf-8")
        t0 = time.monotonic()
        done = iomqa("ingest", env=env)
        seen["ingest_s"] = time.monotonic() - t0
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return
        while time.monotonic() - started < args.duration + 30:
            h = health(url)
            if h and h.get("index_version") not in (None, first):
                seen["version"] = str(h["index_version"])
                seen["reload_s"] = time.monotonic() - t0
                return
            time.sleep(0.1)

    reloader = threading.Thread(target=add_report, daemon=True)
    reloader.start()
    prefix = work / "locust"
    locust = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--host",
            url,
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.duration}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        capture_output=True,
        text=True,
    )
    reloader.join(timeout=60)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no statistics:\n{locust.stderr[-3000:]}")
    outcome = Outcome(
        rows=read_stats(stats),
        first_version=first,
        reloaded_version=seen["version"] if isinstance(seen["version"], str) else None,
        reload_seconds=seen["reload_s"] if isinstance(seen["reload_s"], float) else None,
        ingest_seconds=seen["ingest_s"] if isinstance(seen["ingest_s"], float) else None,
        locust_exit=locust.returncode,
    )
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with failures.open(newline="") as handle:
            for r in csv.DictReader(handle):
                outcome.notes.append(f"{r['Occurrences']}× {r['Method']} {r['Name']}: {r['Error']}")
    return outcome


def report(args: argparse.Namespace, outcome: Outcome) -> str:
    model = (
        f"the packaged all-MiniLM-L6-v2 model (`{args.model}`, CPU)"
        if not args.model.startswith("hashing-")
        else f"the model-free `{args.model}` hashing embedder"
    )
    cache = dict(item.partition("=")[::2] for item in args.server_env).get(
        "IOMQA_ANSWER_CACHE", "1024 (the default)"
    )
    t = outcome.total
    lines = [
        LOAD_BEGIN,
        "## Load run",
        "",
        f"`{' '.join(['.venv/bin/python', '-m', 'iomqa.bench.load', *sys.argv[1:]])}` "
        f"on {datetime.now(UTC):%Y-%m-%d}: {args.users} locust users for {args.duration} s "
        f"against `iomqa serve` (uvicorn, one process) on loopback, on a {os.cpu_count()}-core "
        f"machine, CPU only ({platform.machine()}, Python {platform.python_version()}), "
        f"shared with the load generator; embeddings by {model}; answer cache {cache}. "
        "Each user asks in a loop "
        "with 50–250 ms between requests: POST /ask (6 of 11), GET /ask (2), a passage from "
        "the last answer, the document list and /health (1 each).",
        "",
        f"During the run, at {args.reload_at} s, a new report was added to the corpus and "
        f"`iomqa ingest` run ({_s(outcome.ingest_seconds)}); the service switched from index "
        f"`{outcome.first_version}` to `{outcome.reloaded_version or 'none: NOT RELOADED'}` "
        f"by itself, {_s(_after(outcome.reload_seconds, outcome.ingest_seconds))} after the "
        "ingest finished (it checks every second).",
        "",
        f"**{t.requests} requests, {t.failures} failed**, {t.rps:.1f} requests/s.",
        "",
        "| request | count | failed | req/s | mean ms | "
        + " | ".join(f"p{p[:-1]} ms" if p != "100%" else "max ms" for p in PERCENTILES)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(PERCENTILES),
    ]
    for r in outcome.rows:
        name = "**all**" if r.name == "Aggregated" else f"`{r.name}`"
        cells = " | ".join(f"{r.percentiles_ms[p]:.0f}" for p in PERCENTILES)
        lines.append(
            f"| {name} | {r.requests} | {r.failures} | {r.rps:.1f} | {r.average_ms:.0f} | {cells} |"
        )
    if outcome.notes:
        lines += ["", "Failures:", "", *[f"- {n}" for n in outcome.notes]]
    lines += [
        "",
        "Percentiles are locust's (rounded to two significant digits above 100 ms) and "
        "include the client side on the same two cores.",
        LOAD_END,
    ]
    return "\n".join(lines)


def _after(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else max(0.0, end - start)


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=int, default=60, help="seconds")
    parser.add_argument("--reload-at", type=float, default=20, help="seconds into the run")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2@onnx")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="for the service"
    )
    args = parser.parse_args(argv)
    outcome = run(args)
    # Only the load run's own section is replaced: `iomqa bench` keeps its figures beside it.
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        splice(document, report(args, outcome), LOAD_BEGIN, LOAD_END), encoding="utf-8"
    )
    t = outcome.total
    print(
        f"{t.requests} requests, {t.failures} failed, p50 {t.percentiles_ms['50%']:.0f} ms, "
        f"p95 {t.percentiles_ms['95%']:.0f} ms, p99 {t.percentiles_ms['99%']:.0f} ms; "
        f"reloaded: {outcome.reloaded_version or 'no'}; report: {args.out}"
    )
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
