"""Benchmark plumbing: statistics, the Markdown section, and the scale run on tiny sizes."""

import numpy as np

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


def test_scale_run_measures_recall_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((50, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[:10] + 0.01
    [row] = scale.run(base, queries.astype(np.float32), [2000])
    assert row["passages"] == 2000 and row["ivf_nlist"] == int(4 * np.sqrt(2000))
    recalls = [t["recall_at_10"] for t in row["ivf"]]
    assert all(0.0 <= r <= 1.0 for r in recalls) and recalls[-1] >= recalls[0]
