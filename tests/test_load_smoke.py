"""The load script (iomqa/bench/load.py) in a few seconds: it runs, sees the reload and counts
failed requests. The real run is a benchmark, not a test (docs/benchmarks.md)."""

import re
import subprocess
import sys
from pathlib import Path

from iomqa.bench.report import BEGIN, END
from tests.conftest import write_small_corpus


def load(
    tmp_path: Path, *extra: str, before: str | None = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    corpus = write_small_corpus(tmp_path / "corpus")
    out = tmp_path / "benchmarks.md"
    if before is not None:
        out.write_text(before, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "iomqa.bench.load",
            "--model",
            "hashing-64",
            "--users",
            "2",
            "--duration",
            "3",
            "--reload-at",
            "0.5",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done, out.read_text() if out.exists() else ""


def test_a_short_load_run_has_no_failures_and_sees_the_reload(tmp_path: Path) -> None:
    bench = f"{BEGIN}\n## `iomqa bench`\n\nfigures\n{END}\n"
    old_run = "<!-- iomqa.bench.load: begin -->\n## Load run\n\nold\n<!-- iomqa.bench.load: end -->"
    done, report = load(tmp_path, before=f"# Benchmarks\n\n{old_run}\n\n{bench}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\*\*\d+ requests, 0 failed\*\*", report), report
    assert "NOT RELOADED" not in report and "| **all** |" in report
    # The run replaces its own section and keeps the `iomqa bench` figures beside it.
    assert report.count("## Load run") == 1 and "\nold\n" not in report
    assert report.startswith("# Benchmarks\n") and report.endswith(bench)


def test_failed_requests_are_counted_and_fail_the_run(tmp_path: Path) -> None:
    # A deadline no search can meet: every /ask answers 503.
    done, report = load(tmp_path, "--server-env", "IOMQA_REQUEST_TIMEOUT_S=0.000001")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = re.search(r"\*\*(\d+) requests, (\d+) failed\*\*", report)
    assert failed and int(failed.group(2)) > 0, report
    assert "503" in report
