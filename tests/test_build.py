"""Building, verifying and publishing index generations (hashing embedder)."""

import json
from pathlib import Path

import pytest

from core.errors import IndexCorrupt, IndexNotFound
from core.records import Filters
from core.settings import Settings
from index.build import context_text
from index.generations import (
    CURRENT,
    GENERATIONS,
    current_generation,
    current_version,
    list_versions,
)
from index.manifest import SCHEMA_VERSION, read_manifest
from index.searcher import Searcher
from index.store import STORE_NAME, Store
from ingest.chunk import section_headings
from ingest.embed import HashingEmbedder
from tests.conftest import build


def generation(settings: Settings) -> Path:
    return settings.index_dir / GENERATIONS / str(current_version(settings.index_dir))


def test_build_publishes_a_generation_with_a_complete_manifest(small_index: Settings) -> None:
    gen = generation(small_index)
    manifest = read_manifest(gen)
    assert manifest.schema_version == SCHEMA_VERSION
    assert (manifest.model, manifest.dimension) == ("hashing-64", 64)
    assert manifest.documents == 2 and manifest.passages > 2
    assert set(manifest.corpus) == {"alpha.md", "beta.txt"}
    assert manifest.corpus["alpha.md"]["doc_id"] == "alpha"
    assert {"passages.sqlite3", "dense.faiss", "keyword/params.index.json"} <= set(manifest.files)
    assert manifest.chunking["max_chars"] == 1000
    assert (small_index.index_dir / CURRENT).read_text().strip() == manifest.index_version


def test_documents_without_manifest_entry_get_derived_metadata(small_index: Settings) -> None:
    beta = Searcher.open_current(small_index.index_dir).document("beta")
    assert beta is not None
    assert (beta.metadata.title, beta.metadata.year, beta.source) == (
        "BETA SUBMISSION",
        None,
        "beta.txt",
    )


def test_searcher_finds_passages_and_explains_them(small_index: Settings) -> None:
    searcher = Searcher.open_current(small_index.index_dir)
    hits = searcher.search("remittances bonus on transfers", 3).hits
    assert "2% bonus" in hits[0].passage.text
    assert hits[0].passage.section == (
        "Alpha report on migration data",
        "2. Findings",
        "2.1 Remittances",
    )
    assert hits[0].why.bm25_rank == 1 and hits[0].why.dense_rank is not None
    assert [h.rank for h in hits] == [1, 2, 3]


def test_filters_restrict_results_to_matching_documents(small_index: Settings) -> None:
    searcher = Searcher.open_current(small_index.index_dir)
    only_beta = searcher.search("migrants", 10, Filters(doc_ids=frozenset({"beta"})))
    assert only_beta.hits and {h.document.doc_id for h in only_beta.hits} == {"beta"}
    assert set(only_beta.facets) == {"beta"}
    by_year = searcher.search("migrants", 10, Filters(year_from=2019, year_to=2020))
    assert {h.document.doc_id for h in by_year.hits} == {"alpha"}  # beta has no year
    by_type = searcher.search("migrants", 10, Filters(types=frozenset({"IDM report"})))
    assert {h.document.doc_id for h in by_type.hits} == {"alpha"}
    assert searcher.search("migrants", 10, Filters(year_from=2030)).hits == []


def test_results_carry_highlights_terms_and_facets(small_index: Settings) -> None:
    result = Searcher.open_current(small_index.index_dir).search("bonus on transfers", 5)
    top = result.hits[0]
    sentences = [top.passage.text[h.start : h.end] for h in top.highlights]
    assert "Banks offered a 2% bonus on transfers." in sentences
    assert set(top.matched_terms) >= {"bonus", "transfers"}
    assert (
        sum(result.facets.values())
        == sum(1 for _ in Searcher.open_current(small_index.index_dir).search("bonus", 50).hits)
        or result.facets
    )
    assert 0.0 <= result.confidence <= 1.0


def test_near_identical_passages_collapse_into_one_result(
    small_corpus: Path, settings: Settings
) -> None:
    repeated = (
        "Recommendation: strengthen migration data systems in every region now, and share "
        "the resulting statistics with local governments and civil society."
    )
    (small_corpus / "gamma.md").write_text(
        f"# Gamma\n\n## 1. Body\n\n{repeated}\n\n## 2. Closing\n\n{repeated}\n"
    )
    assert build(settings).published
    hits = Searcher.open_current(settings.index_dir).search("strengthen data systems", 5).hits
    top = hits[0]
    assert repeated in top.passage.text and len(top.also_in) == 1
    other = top.also_in[0].passage
    assert repeated in other.text and other.passage_id != top.passage.passage_id
    assert all(repeated not in h.passage.text for h in hits[1:])


def test_rebuilding_an_unchanged_corpus_keeps_passage_ids(small_index: Settings) -> None:
    before = Searcher.open_current(small_index.index_dir)
    ids = {p.passage_id for d in before.documents() for p in before.passages_of(d.doc_id)}
    assert build(small_index, rebuild=True).published
    after = Searcher.open_current(small_index.index_dir)
    assert after.version != before.version
    assert {p.passage_id for d in after.documents() for p in after.passages_of(d.doc_id)} == ids


def test_a_bad_document_is_reported_and_the_rest_indexed(
    small_corpus: Path, settings: Settings
) -> None:
    (small_corpus / "broken.pdf").write_bytes(b"<!DOCTYPE html><html>error</html>")
    (small_corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (small_corpus / "slides.pptx").write_bytes(b"PK")
    report = build(settings)
    outcome = {d.source: (d.status, d.reason) for d in report.documents}
    assert outcome["broken.pdf"][0] == "corrupt" and "not a PDF" in outcome["broken.pdf"][1]
    assert outcome["latin1.txt"][0] == "unsupported" and "UTF-8" in outcome["latin1.txt"][1]
    assert outcome["slides.pptx"][0] == "unsupported" and ".pdf" in outcome["slides.pptx"][1]
    assert outcome["alpha.md"][0] == outcome["beta.txt"][0] == "ok"
    assert report.published


def test_nothing_published_when_no_document_is_usable(small_index: Settings) -> None:
    served = current_version(small_index.index_dir)
    for path in small_index.corpus_dir.iterdir():
        path.unlink()
    (small_index.corpus_dir / "empty.txt").write_text("  \n")
    report = build(small_index)
    assert not report.published and report.documents[0].status == "no_text"
    assert current_version(small_index.index_dir) == served  # the old index keeps serving


@pytest.mark.parametrize("damage", ["truncate", "zero", "delete"])
def test_damaged_generation_is_refused_loudly(small_index: Settings, damage: str) -> None:
    target = generation(small_index) / "dense.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "zero":
        target.write_bytes(b"\0" * target.stat().st_size)
    else:
        target.unlink()
    with pytest.raises(IndexCorrupt, match=r"dense\.faiss"):
        Searcher.open_current(small_index.index_dir)


def test_manifest_with_other_model_is_refused(small_index: Settings) -> None:
    gen = generation(small_index)
    with pytest.raises(IndexCorrupt, match="built with model 'hashing-64'"):
        Searcher.open(gen, HashingEmbedder(32))


def test_manifest_edits_are_detected(small_index: Settings) -> None:
    path = generation(small_index) / "manifest.json"
    data = json.loads(path.read_text())
    data["passages"] += 1
    path.write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="vectors"):
        Searcher.open_current(small_index.index_dir)


def test_no_index_says_how_to_build_one(settings: Settings) -> None:
    with pytest.raises(IndexNotFound, match="iomqa ingest"):
        Searcher.open_current(settings.index_dir)


def test_old_generations_are_pruned(small_index: Settings) -> None:
    for _ in range(3):
        assert build(small_index, rebuild=True).published
    versions = list_versions(small_index.index_dir)
    assert len(versions) == 3 and current_version(small_index.index_dir) == versions[-1]
    assert not any((small_index.index_dir / "staging").iterdir())


def test_the_first_results_do_not_depend_on_how_many_are_asked_for(
    real_corpus_fake_index: Settings,
) -> None:
    searcher = Searcher.open_current(real_corpus_fake_index.index_dir)
    for question in (
        "How many Venezuelan refugees and migrants live in Colombia?",
        "How many Syrian refugees are hosted in Lebanon?",
        "remittances and diaspora investment",
    ):
        few = [h.passage.passage_id for h in searcher.search(question, 5).hits]
        many = [h.passage.passage_id for h in searcher.search(question, 50).hits]
        assert len(many) == 50 and many[:5] == few, question


def test_retrievers_read_the_headings_each_citation_names_whole(
    real_corpus_fake_index: Settings,
) -> None:
    store = Store(current_generation(real_corpus_fake_index.index_dir) / STORE_NAME)
    try:
        cut = 0
        for info in store.documents():
            document = store.load_document(info.doc_id)
            assert document is not None
            for passage in store.passages_of(info.doc_id):
                whole = section_headings(document, passage)
                assert len(whole) == len(passage.section), passage.passage_id
                for heading, cited in zip(whole, passage.section, strict=True):
                    assert heading.title.startswith(cited.rstrip("…"))
                    cut += cited.endswith("…")
                assert context_text(document, passage).endswith(passage.text)
        assert cut > 0  # the corpus has headings too long to cite whole (Q1-Q7, panels)
    finally:
        store.close()
