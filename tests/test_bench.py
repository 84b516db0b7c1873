"""Benchmark plumbing: statistics, the Markdown section, and the scale run on tiny sizes."""

from core.settings import Settings
from index.generations import GENERATIONS, current_version
from ingest.embed import HashingEmbedder
from iomqa.bench import scale
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
