"""The question the cross-encoder reads, and the one embedded for dense search, leave out
where the answer is said to be, and when that source was published or held."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from core.settings import Settings
from index.attribution import without_attribution
from index.searcher import Searcher

STRIPPED = [
    # Trailing clauses, after a comma or not.
    (
        "What share of migrants are young, according to the data panel?",
        "What share of migrants are young?",
    ),
    (
        "How many were reached by campaigns according to the 2021 report?",
        "How many were reached by campaigns?",
    ),
    # Leading and inserted sources.
    (
        "According to IOM's 2023 report, how many goals are tied to mobility?",
        "How many goals are tied to mobility?",
    ),
    (
        "In IOM's view, how should the review body relate to the compact?",
        "How should the review body relate to the compact?",
    ),
    (
        "Which regions does the report, as quoted at IDM 2023, name?",
        "Which regions does the report, name?",
    ),
    (
        "What are Peacebuilding Funds, as defined in the IDM 2023 report?",
        "What are Peacebuilding Funds?",
    ),
    # Years that date the source, before its name or after "IDM".
    (
        "What did the 2021 IDM recommendations say about youth?",
        "What did the IDM recommendations say about youth?",
    ),
    (
        "What does IOM say about the nexus in its 2018 HLPF input?",
        "What does IOM say about the nexus in its HLPF input?",
    ),
    (
        "Who moderated Panel 1 at IDM 2023?",
        "Who moderated Panel 1 at IDM?",
    ),
    (
        "What proportion did the 2023 dialogue say could be left behind?",
        "What proportion did the dialogue say could be left behind?",
    ),
]

UNCHANGED = [
    "Which partners were involved in the Mayors Mechanism?",  # no source named
    "In IOM's view, what matters?",  # too little would be left
    "According to IOM?",
    "Did costs rise accordingly?",  # "according" that attributes nothing
    "How much money did migrants send home in 2021?",  # a year the passage itself states
    "Which 2019 decisions shaped the compact?",  # a year dating the decisions, not a report
]


@pytest.mark.parametrize(("question", "asked"), STRIPPED)
def test_the_clause_naming_the_source_is_left_out(question: str, asked: str) -> None:
    assert without_attribution(question) == asked


@pytest.mark.parametrize("question", UNCHANGED)
def test_questions_without_a_source_or_with_too_little_left_are_unchanged(question: str) -> None:
    assert without_attribution(question) == question


def test_the_dense_query_leaves_out_the_source_and_keyword_search_keeps_it(
    small_index: Settings,
) -> None:
    searcher = Searcher.open_current(small_index.index_dir)
    embedded: list[str] = []
    encode = searcher.embedder.encode

    def spy(texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        embedded.extend(texts)
        return encode(texts, batch_size=batch_size)

    searcher.embedder.encode = spy  # type: ignore[method-assign]
    result = searcher.search("Which partners were involved, according to the beta submission?", 3)
    assert embedded == [searcher.embedder.query_prefix + "Which partners were involved?"]
    # "beta" and "submission" still reach keyword search: the beta submission leads.
    assert result.hits[0].document.doc_id == "beta"
    assert result.hits[0].why.bm25_rank == 1
