"""New reports arrive: incremental ingest, atomic generations, locking, rollback."""

import os
import shutil
import subprocess
import sys
import threading

import pytest

from core.errors import IndexCorrupt, IngestLocked
from core.settings import Settings
from index.build import BuildConfig, build_index, publish_verified
from index.generations import (
    CURRENT,
    GENERATIONS,
    current_version,
    ingest_lock,
    list_versions,
    new_staging,
)
from index.searcher import Searcher
from ingest.embed import HashingEmbedder
from ingest.pdf import PdfLimits
from tests.conftest import REPO, build

GAMMA = """# Gamma report

## 1. Oceans

Seafarers from Kiribati face rising sea levels. Atoll communities plan relocation.

## 2. Funding

A loss and damage fund was announced for small island states.
"""


def ids_of(settings: Settings, doc_id: str) -> list[str]:
    searcher = Searcher.open_current(settings.index_dir)
    return [p.passage_id for p in searcher.passages_of(doc_id)]


def test_add_change_remove_follow_the_corpus(small_index: Settings) -> None:
    corpus = small_index.corpus_dir
    alpha_ids, beta_ids = ids_of(small_index, "alpha"), ids_of(small_index, "beta")

    (corpus / "gamma.md").write_text(GAMMA)
    added = build(small_index)
    assert (added.added, added.changed, added.removed) == (["gamma.md"], [], [])
    assert added.unchanged == ["alpha.md", "beta.txt"]
    assert added.embedded == len(ids_of(small_index, "gamma")) > 0
    assert ids_of(small_index, "alpha") == alpha_ids and ids_of(small_index, "beta") == beta_ids
    top = Searcher.open_current(small_index.index_dir).search("Kiribati atoll relocation", 1)
    assert top.hits[0].document.doc_id == "gamma"

    beta = corpus / "beta.txt"
    beta.write_text(
        beta.read_text().replace(
            "Border restrictions disrupted travel.", "Border closures stranded seafarers."
        )
    )
    changed = build(small_index)
    assert (changed.added, changed.changed, changed.removed) == ([], ["beta.txt"], [])
    new_beta = ids_of(small_index, "beta")
    assert new_beta != beta_ids and set(new_beta) & set(beta_ids)  # untouched passages keep ids
    assert 0 < changed.embedded < len(new_beta) + 1

    (corpus / "alpha.md").unlink()
    removed = build(small_index)
    assert (removed.added, removed.changed, removed.removed) == ([], [], ["alpha.md"])
    searcher = Searcher.open_current(small_index.index_dir)
    assert searcher.document("alpha") is None
    assert all(h.document.doc_id != "alpha" for h in searcher.search("migration data", 20).hits)
    assert removed.embedded == 0


def test_unchanged_corpus_publishes_nothing_and_embeds_nothing(small_index: Settings) -> None:
    served = current_version(small_index.index_dir)
    report = build(small_index)
    assert report.up_to_date and not report.published and report.embedded == 0
    assert report.index_version == served == current_version(small_index.index_dir)
    assert report.unchanged == ["alpha.md", "beta.txt"]
    assert [d.status for d in report.documents] == ["ok", "ok"]


def test_metadata_edit_reindexes_the_document(small_index: Settings) -> None:
    manifest = small_index.corpus_dir / "corpus.toml"
    manifest.write_text(manifest.read_text().replace("year = 2020", "year = 2021"))
    report = build(small_index)
    assert report.changed == ["alpha.md"] and report.published
    doc = Searcher.open_current(small_index.index_dir).document("alpha")
    assert doc is not None and doc.metadata.year == 2021


def test_unchanged_bad_file_is_reported_again_without_being_retried(small_index: Settings) -> None:
    (small_index.corpus_dir / "broken.pdf").write_bytes(b"<html>not a pdf</html>")
    first = build(small_index)
    assert first.added == ["broken.pdf"]
    again = build(small_index)
    assert again.up_to_date and "broken.pdf" in again.unchanged
    bad = next(d for d in again.documents if d.source == "broken.pdf")
    assert bad.status == "corrupt" and "not a PDF" in bad.reason


def test_model_change_rebuilds_everything(small_index: Settings) -> None:
    report = build(small_index, HashingEmbedder(32))
    assert report.published and report.embedded == sum(d.passages for d in report.documents)


def test_a_new_text_version_reparses_unchanged_files(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.build

    assert build(small_index).up_to_date
    monkeypatch.setattr(index.build, "TEXT_VERSION", index.build.TEXT_VERSION + 1)
    report = build(small_index)
    assert report.published and sorted(report.changed + report.added) == ["alpha.md", "beta.txt"]
    assert build(small_index).up_to_date


def test_a_second_ingest_fails_clearly_or_waits(small_index: Settings) -> None:
    (small_index.corpus_dir / "gamma.md").write_text(GAMMA)
    config = BuildConfig(corpus_dir=small_index.corpus_dir, index_dir=small_index.index_dir)
    with ingest_lock(small_index.index_dir):
        with pytest.raises(IngestLocked, match="another ingest is running"):
            build_index(config, HashingEmbedder(64))
        results = []
        waiter = threading.Thread(
            target=lambda: results.append(build_index(config, HashingEmbedder(64), wait=True))
        )
        waiter.start()
        waiter.join(timeout=1)
        assert waiter.is_alive()  # blocked on the lock
    waiter.join(timeout=30)
    assert results and results[0].added == ["gamma.md"]


def test_leftovers_of_an_interrupted_build_are_cleaned(small_index: Settings) -> None:
    stale = new_staging(small_index.index_dir)
    (stale / "half-written.faiss").write_bytes(b"x")
    (small_index.corpus_dir / "gamma.md").write_text(GAMMA)
    assert build(small_index).published
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncate", "zero"])
def test_damaged_new_generation_is_never_published(small_index: Settings, damage: str) -> None:
    served = current_version(small_index.index_dir)
    staging = new_staging(small_index.index_dir)
    source = small_index.index_dir / GENERATIONS / str(served)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    target = staging / "passages.sqlite3"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\0" * len(data))
    with pytest.raises(IndexCorrupt, match=r"passages\.sqlite3"):
        publish_verified(
            small_index.index_dir, staging, "20990101T000000000Z-bad", HashingEmbedder(64)
        )
    assert current_version(small_index.index_dir) == served
    assert "20990101T000000000Z-bad" not in list_versions(small_index.index_dir)
    assert Searcher.open_current(small_index.index_dir).search("migration", 3).hits


def iomqa(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "IOMQA_CORPUS_DIR": str(settings.corpus_dir),
        "IOMQA_INDEX_DIR": str(settings.index_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "iomqa", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_index_list_verify_and_rollback(small_index: Settings) -> None:
    first = current_version(small_index.index_dir)
    (small_index.corpus_dir / "gamma.md").write_text(GAMMA)
    assert build(small_index).published
    second = current_version(small_index.index_dir)
    listing = iomqa("index", "list", settings=small_index)
    assert f"* {second}" in listing.stdout and f"  {first}" in listing.stdout
    assert iomqa("index", "verify", settings=small_index).returncode == 0
    rolled = iomqa("index", "rollback", settings=small_index)
    assert rolled.returncode == 0, rolled.stderr
    assert current_version(small_index.index_dir) == first
    assert Searcher.open_current(small_index.index_dir).document("gamma") is None
    (small_index.index_dir / GENERATIONS / str(second) / "dense.faiss").write_bytes(b"junk")
    refused = iomqa("index", "rollback", str(second), settings=small_index)
    assert refused.returncode == 2 and "dense.faiss" in refused.stderr
    assert (small_index.index_dir / CURRENT).read_text().strip() == first


def test_sigkill_during_ingest_leaves_the_served_index_intact(
    own_real_corpus_index: Settings,
) -> None:
    """Kill `iomqa ingest` at several points of a full rebuild; what is served never breaks."""
    import time

    settings = own_real_corpus_index
    served = current_version(settings.index_dir)
    env = {
        **os.environ,
        "IOMQA_CORPUS_DIR": str(settings.corpus_dir),
        "IOMQA_INDEX_DIR": str(settings.index_dir),
        "IOMQA_MODEL": "hashing-64",
    }
    started = time.monotonic()
    full = subprocess.run(
        [sys.executable, "-m", "iomqa", "ingest", "--rebuild"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert full.returncode == 0
    duration = time.monotonic() - started
    served = current_version(settings.index_dir)
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95):
        proc = subprocess.Popen(
            [sys.executable, "-m", "iomqa", "ingest", "--rebuild"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(duration * fraction)
        proc.kill()
        proc.wait()
        now = current_version(settings.index_dir)
        assert now is not None
        if now != served:  # the kill came after the atomic switch: the new one is complete
            served = now
        searcher = Searcher.open_current(settings.index_dir)  # verifies every checksum
        assert searcher.version == served and searcher.search("migration data", 3).hits
    final = iomqa("ingest", "--rebuild", settings=settings)
    assert final.returncode == 0, final.stderr
    assert not any((settings.index_dir / "staging").iterdir())


def test_a_retried_failure_that_now_succeeds_is_published(small_index: Settings) -> None:
    shutil.copy(REPO / "tests" / "pdf-samples" / "pdflatex-4-pages.pdf", small_index.corpus_dir)
    limited = BuildConfig(
        corpus_dir=small_index.corpus_dir,
        index_dir=small_index.index_dir,
        pdf=PdfLimits(max_pages=3),
    )
    refused = build_index(limited, HashingEmbedder(64))
    assert refused.published and refused.added == ["pdflatex-4-pages.pdf"]
    assert {d.source: d.status for d in refused.documents}["pdflatex-4-pages.pdf"] == "too_large"
    # The limit is raised, the file is unchanged: it is parsed again, and now it is served.
    retried = build(small_index)
    assert retried.published and not retried.up_to_date
    assert "pdflatex-4-pages.pdf" in retried.unchanged
    served = Searcher.open_current(small_index.index_dir)
    assert any(d.source == "pdflatex-4-pages.pdf" for d in served.documents())
    assert build(small_index).up_to_date


def test_a_change_to_what_the_retrievers_read_re_embeds_everything(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.build

    monkeypatch.setattr(index.build, "CONTEXT_VERSION", index.build.CONTEXT_VERSION + 1)
    report = build(small_index)
    assert report.published and sorted(report.added) == ["alpha.md", "beta.txt"]
    assert build(small_index).up_to_date


def test_rollback_refuses_a_generation_built_with_another_model(small_index: Settings) -> None:
    first = current_version(small_index.index_dir)  # hashing-64, the configured model
    assert build(small_index, HashingEmbedder(32)).published
    other_model = current_version(small_index.index_dir)
    assert build(small_index).published
    third = current_version(small_index.index_dir)
    refused = iomqa("index", "rollback", str(other_model), settings=small_index)
    # Checked with its own model it would pass, and then be refused by every service
    # configured with IOMQA_MODEL=hashing-64.
    assert refused.returncode == 2
    assert "hashing-32" in refused.stderr and "hashing-64" in refused.stderr
    assert current_version(small_index.index_dir) == third
    assert iomqa("index", "rollback", str(first), settings=small_index).returncode == 0
