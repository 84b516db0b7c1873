from pathlib import Path

import pytest

from core.errors import CorpusError
from ingest.corpus import assign_doc_ids, read_manifest, scan, set_manifest_entry, slug_doc_id


def test_scan_lists_documents_but_not_the_manifest_or_hidden_files(small_corpus: Path) -> None:
    (small_corpus / ".hidden.txt").write_text("x")
    (small_corpus / "notes.docx").write_bytes(b"PK")
    sources = [f.source for f in scan(small_corpus)]
    assert sources == ["alpha.md", "beta.txt", "notes.docx"]


def test_manifest_entries_attach_to_files(small_corpus: Path) -> None:
    files = {f.source: f for f in scan(small_corpus)}
    assert files["alpha.md"].entry.doc_id == "alpha"
    assert files["alpha.md"].entry.metadata == {
        "title": "Alpha report on migration data",
        "year": 2020,
        "series": "Test Series",
        "number": 7,
        "publisher": "International Organization for Migration (IOM), Geneva",
        "author": "International Organization for Migration (IOM)",
        "type": "IDM report",
    }
    assert files["beta.txt"].entry.doc_id is None


def test_unknown_manifest_keys_are_refused_with_the_allowed_list(tmp_path: Path) -> None:
    (tmp_path / "corpus.toml").write_text('["a.txt"]\ntitel = "typo"\n')
    with pytest.raises(CorpusError, match=r"unknown keys \['titel'\].*allowed:.*'title'"):
        read_manifest(tmp_path)


def test_derived_doc_ids_are_readable_and_unique(tmp_path: Path) -> None:
    for name in ("IDM Report 36.pdf", "idm-report-36.txt", "sub/Other.md"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("text")
    ids = assign_doc_ids(scan(tmp_path))
    assert ids == {
        "IDM Report 36.pdf": "idm-report-36",
        "idm-report-36.txt": "idm-report-36-txt",
        "sub/Other.md": "sub-other",
    }
    assert slug_doc_id("Ünïcode.pdf") == "n-code"


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        scan(tmp_path / "nope")


def test_adding_an_entry_to_a_broken_manifest_names_the_manifest_and_keeps_it(
    tmp_path: Path,
) -> None:
    broken = '["a.txt"]\ntitle = "unterminated\n'
    (tmp_path / "corpus.toml").write_text(broken, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus\.toml: not valid TOML"):
        set_manifest_entry(tmp_path, "b.txt", {"title": "B"})
    assert (tmp_path / "corpus.toml").read_text(encoding="utf-8") == broken
