"""Keyword analysis, highlights, near-duplicates and the confidence model."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.records import Signals
from index.confidence import FEATURES, Calibration, coverage, fit
from index.dedup import across_documents, group, near_duplicate, shingles
from index.highlight import best_sentences, matched_terms
from index.keyword import KeywordIndex, name_words, query_tokens, tokenize, top_k
from iomqa.evaluation.metrics import auroc


def test_tokens_are_stemmed_folded_and_free_of_function_words() -> None:
    assert tokenize("The Participants participated in ﬁnancial Remittances") == [
        "particip",
        "particip",
        "financi",
        "remitt",
    ]
    assert query_tokens("According to the report, how many participants were there?") == [
        "report",
        "particip",
    ]


def test_keyword_search_ranks_matching_rows_and_respects_the_mask() -> None:
    import numpy as np

    index = KeywordIndex.build(["remittances to Moldova", "health of migrants", "migrants"])
    rows, scores = index.search("Moldova remittances", 3)
    assert rows.tolist() == [0] and scores[0] > 0
    rows, _ = index.search("migrants", 3, np.array([True, False, True]))
    assert rows.tolist() == [2]
    assert index.search("nothing matches", 3)[0].tolist() == []
    assert index.idf(["migrant"])[0] < index.idf(["moldova"])[0] < index.idf(["unseen"])[0]


@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=0, max_size=40),
    st.integers(min_value=0, max_value=50),
)
def test_top_k_is_the_best_positive_scores_with_ties_in_row_order(
    values: list[float], k: int
) -> None:
    import numpy as np

    scores = np.array(values, dtype=np.float32)
    rows, best = top_k(scores, k)
    expected = sorted((r for r, v in enumerate(values) if v > 0), key=lambda r: (-values[r], r))
    assert rows.tolist() == expected[:k]
    assert best.tolist() == [values[r] for r in expected[:k]]


def test_best_sentence_is_highlighted_and_a_close_second_joins_it() -> None:
    text = "Intro sentence. The bonus was 2% on transfers. Unrelated close."
    spans = [(0, 15), (16, 46), (47, 63)]
    chosen = best_sentences(text, spans, [0.1, 0.5, 0.48], "bonus on transfers")
    assert [text[h.start : h.end] for h in chosen] == ["The bonus was 2% on transfers."]
    chosen = best_sentences(text, spans, [0.1, 0.5, 0.65], "bonus on transfers")
    assert [(h.start, h.end) for h in chosen] == [(16, 46), (47, 63)]  # reading order
    assert best_sentences("", [], [], "q") == []


def test_matched_terms_are_each_form_as_written() -> None:
    assert matched_terms("Remittances and the remittance bonus", "remittances bonus") == [
        "Remittances",
        "remittance",
        "bonus",
    ]


def test_near_duplicates_group_under_the_best_ranked() -> None:
    a = "Recommendations: strengthen migration data systems and share data across borders now"
    b = "Recommendations: strengthen migration data systems and share data across borders"
    c = "A completely different passage about health services for migrants in cities"
    assert near_duplicate(shingles(a), shingles(b))
    assert not near_duplicate(shingles(a), shingles(c))
    assert group([a, c, b]) == [[0, 2], [1]]
    assert group([a, c, b], limit=1) == [[0, 2]]


def test_groups_spanning_documents_are_found_whole() -> None:
    groups = [[0, 3], [1], [2, 4, 5]]
    docs = ["a", "a", "b", "b", "b", "b"]
    assert across_documents(groups, docs) == [0, 3]
    assert across_documents([[0], [1]], ["a", "b"]) == []


def test_short_passages_are_not_swallowed_by_containment() -> None:
    short = "International Organization for Migration (IOM)"
    long = f"{short} held its first session of the dialogue in New York in 2016 with many"
    assert not near_duplicate(shingles(short), shingles(long))


def test_name_words_are_capitalised_or_numbered_but_not_the_question_word() -> None:
    assert name_words("What is the Rabat Process and who takes part?") == ["Rabat", "Process"]
    assert name_words("How many H-2A visas were issued under Convention No. 189?") == [
        "H-2A",
        "Convention",
        "No",
        "189",
    ]
    assert name_words("Which country left migrants behind?") == []


def test_coverage_weights_terms_by_idf() -> None:
    assert coverage([1.0, 3.0], [False, True]) == 0.75
    assert coverage([], []) == 0.0


def signals(value: float) -> Signals:
    return Signals(
        dense=value,
        sentence=value,
        bm25=value,
        coverage=value,
        missing=1 - value,
        agreement=value,
        margin=value / 10,
        focus=value,
        lead=value / 10,
        unknown_name=0.0 if value > 0.5 else 1.0,
        absent_name=0.0 if value > 0.5 else 1.0,
        absent_number=0.0 if value > 0.5 else 1.0,
        answer_absent=0.0,
    )


def test_fitted_confidence_separates_and_stays_a_probability() -> None:
    positives = [signals(0.6 + 0.01 * i) for i in range(20)]
    negatives = [signals(0.3 + 0.01 * i) for i in range(20)]
    model = fit(positives + negatives, [True] * 20 + [False] * 20)
    pos = [model.confidence(s) for s in positives]
    neg = [model.confidence(s) for s in negatives]
    assert auroc(pos, neg) == 1.0
    assert all(0.0 < c < 1.0 for c in pos + neg)
    assert min(pos) > 0.5 > max(neg)


def test_calibration_is_a_logistic_function_of_the_signals() -> None:
    weights = dict.fromkeys(FEATURES, 0.0)
    weights["dense"] = 1.0
    model = Calibration(weights, -0.5)
    assert model.confidence(signals(0.5)) == pytest.approx(0.5)
    assert model.confidence(signals(1.5)) == pytest.approx(1 / (1 + math.exp(-1)))
