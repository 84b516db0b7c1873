"""The iomqa command as a user runs it (in a subprocess, hashing embedder)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_small_corpus


def iomqa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iomqa", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_json_summary_then_ask(tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    (corpus / "bad.pdf").write_bytes(b"")
    env = {"IOMQA_CORPUS_DIR": str(corpus), "IOMQA_INDEX_DIR": str(tmp_path / "index")}
    done = iomqa("ingest", "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) >= {
        "documents",
        "passages",
        "embedded",
        "index_version",
        "added",
        "changed",
        "removed",
        "unchanged",
    }
    assert summary["added"] == ["alpha.md", "bad.pdf", "beta.txt"]
    rows = {d["source"]: d for d in summary["documents"]}
    assert set(rows["alpha.md"]) == {"doc_id", "source", "status", "reason", "pages", "passages"}
    assert rows["alpha.md"]["status"] == "ok" and rows["alpha.md"]["doc_id"] == "alpha"
    assert rows["bad.pdf"]["status"] == "corrupt" and "empty" in rows["bad.pdf"]["reason"]
    assert summary["passages"] == summary["embedded"] == sum(d["passages"] for d in rows.values())

    asked = iomqa("ask", "2% bonus on remittance transfers", "-k", "2", "--json", env=env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["index_version"] == summary["index_version"]
    assert "2% bonus" in answer["passages"][0]["text"]
    assert "Alpha report on migration data" in answer["passages"][0]["citation"]["formatted"]

    again = iomqa("ingest", "--if-missing", env=env)
    assert again.returncode == 0 and "not rebuilding" in again.stderr


def test_ingest_exits_nonzero_when_nothing_can_be_published(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    env = {"IOMQA_CORPUS_DIR": str(corpus), "IOMQA_INDEX_DIR": str(tmp_path / "index")}
    done = iomqa("ingest", env=env)
    assert done.returncode == 1 and "nothing published" in done.stderr


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    done = iomqa("ingest", env={"IOMQA_CORPUS_DIR": str(tmp_path / "nope")})
    assert done.returncode == 2 and "does not exist" in done.stderr
