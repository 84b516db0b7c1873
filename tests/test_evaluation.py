"""The evaluation harness itself: a perfect and a useless retriever score as they must."""

import dataclasses
import json
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from iomqa.evaluation.baselines import windows
from iomqa.evaluation.harness import (
    Answer,
    Question,
    evaluate,
    interval_table,
    load_questions,
    question_union,
)
from iomqa.evaluation.metrics import (
    Interval,
    auroc,
    auroc_interval,
    contains_evidence,
    first_hit,
    ndcg,
    rank_intervals,
)

QUESTIONS = [
    Question("a", "number", "How many?", "d", "The workshop gathered some 300 people", "body"),
    Question("b", "name", "Who?", "d", "a statement by Denis Coderre, Mayor of Montreal", "body"),
    Question("c", "paraphrase", "Why?", "d", "migration does not need to be solved", "body"),
    Question("u", "unanswerable", "Never?", None, None, None),
]
DEVELOPMENT = ["questions.jsonl", "questions-2.jsonl"]
EVIDENCE = {q.question: q.evidence for q in QUESTIONS}
FILLER = [f"unrelated passage number {i} about something else entirely" for i in range(10)]


def perfect(question: str, k: int) -> Answer:
    quote = EVIDENCE[question]
    if quote is None:
        return Answer(FILLER[:k], 0.1, 1.0)
    return Answer([f"Context before. {quote}. Context after.", *FILLER][:k], 0.9, 1.0)


def useless(question: str, k: int) -> Answer:
    return Answer(FILLER[:k], 0.5, 1.0)


def test_perfect_retriever_scores_one() -> None:
    report = evaluate("perfect", perfect, QUESTIONS)
    o = report.overall
    assert (o.n, o.hit1, o.hit5, o.hit10, o.mrr10, o.ndcg10) == (3, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert report.auroc == 1.0
    assert report.by_kind["number"].hit1 == 1.0


def test_useless_retriever_scores_zero_and_chance_auroc() -> None:
    report = evaluate("useless", useless, QUESTIONS)
    o = report.overall
    assert (o.hit1, o.hit10, o.mrr10, o.ndcg10) == (0.0, 0.0, 0.0, 0.0)
    assert report.auroc == 0.5


def test_rank_three_scores_partially() -> None:
    def third(question: str, k: int) -> Answer:
        quote = EVIDENCE[question] or "nothing"
        return Answer([FILLER[0], FILLER[1], quote, *FILLER][:k], 0.5, 1.0)

    o = evaluate("third", third, QUESTIONS).overall
    assert (o.hit1, o.hit5, o.mrr10) == (0.0, 1.0, pytest.approx(1 / 3))
    assert o.ndcg10 == pytest.approx(ndcg(3)) == pytest.approx(0.5)


def test_half_of_the_quote_is_enough_and_less_is_not() -> None:
    quote = "The workshop gathered some 300 participants including high level representatives"
    assert contains_evidence("…gathered some 300 participants including high…", quote)
    assert not contains_evidence("The workshop gathered some people.", quote)
    assert contains_evidence("THE  **workshop**\ngathered some 300 participants", quote)
    assert first_hit(["no", "x " + quote], quote) == 2


def test_passages_are_cut_at_1500_characters_before_scoring() -> None:
    quote = "a distinctive closing sentence about migration data"
    assert not contains_evidence("x" * 1500 + quote, quote)


def test_auroc_counts_ties_half() -> None:
    assert auroc([0.9, 0.8], [0.1]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
    assert auroc([0.1], [0.9, 0.2]) == 0.0


def test_intervals_hold_the_figure_and_narrow_with_more_questions() -> None:
    # hit@1 0.7 and MRR@10 0.8 at both sizes; only the number of questions differs.
    few = [1] * 7 + [2] * 2 + [None]
    many = few * 10
    small, large = rank_intervals(few), rank_intervals(many)
    for name, figure in (("hit1", 0.7), ("hit5", 0.9), ("mrr10", 0.8)):
        assert small[name].low < figure < small[name].high
        assert large[name].low < figure < large[name].high
        assert large[name].high - large[name].low < small[name].high - small[name].low
    assert rank_intervals(few, level=0.95)["hit1"].high >= small["hit1"].high


def test_intervals_are_reproducible_and_collapse_without_spread() -> None:
    ranks = [1, 3, None, 12, 2, 1]
    assert rank_intervals(ranks) == rank_intervals(ranks)
    assert rank_intervals(ranks, seed=1) != rank_intervals(ranks, seed=2)
    assert rank_intervals([1] * 20)["hit1"] == Interval(1.0, 1.0)
    # Rank 12 is outside the top 10: it counts as missed, as in the figures themselves.
    assert rank_intervals([12] * 5)["hit10"] == Interval(0.0, 0.0)
    assert rank_intervals([]) == {}


def test_auroc_interval_keeps_both_kinds_in_every_draw() -> None:
    assert auroc_interval([0.9, 0.8, 0.7], [0.1, 0.2]) == Interval(1.0, 1.0)
    assert auroc_interval([0.9], []) is None
    mixed = auroc_interval([0.9, 0.3, 0.6, 0.8], [0.5, 0.1, 0.7])
    assert mixed is not None
    assert mixed.low < auroc([0.9, 0.3, 0.6, 0.8], [0.5, 0.1, 0.7]) < mixed.high


def test_interval_table_reports_every_system() -> None:
    reports = [evaluate("perfect", perfect, QUESTIONS), evaluate("useless", useless, QUESTIONS)]
    table = interval_table(reports).splitlines()
    assert table[0].startswith("| system (90% bootstrap intervals) |")
    assert (
        table[2]
        == "| perfect | 1.000–1.000 | 1.000–1.000 | 1.000–1.000 | 1.000–1.000 | 1.000–1.000 |"
    )
    assert table[3].startswith("| useless | 0.000–0.000 |")


def test_question_union_keeps_every_set_in_order_and_refuses_a_shared_id(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    rows = [json.dumps(dataclasses.asdict(q)) for q in QUESTIONS]
    first.write_text("\n".join(rows[:2]) + "\n", encoding="utf-8")
    second.write_text("\n".join(rows[2:]) + "\n", encoding="utf-8")
    assert [q.id for q in question_union([first, second])] == ["a", "b", "c", "u"]
    with pytest.raises(ValueError, match="question id 'a' appears twice"):
        question_union([first, second, first])


def test_windows_cover_the_text_in_order() -> None:
    text = " ".join(f"w{i}" for i in range(450))
    parts = windows(text, 200)
    assert [len(p.split()) for p in parts] == [200, 200, 50]
    assert " ".join(parts) == text


@pytest.mark.parametrize(
    ("name", "answerable_floor", "unanswerable_floor"),
    [
        ("questions.jsonl", 120, 20),
        ("validation.jsonl", 60, 10),
        ("validation-2.jsonl", 100, 15),
        ("questions-2.jsonl", 30, 25),
        ("validation-3.jsonl", 90, 10),
    ],
)
def test_question_sets_are_well_formed_and_quotes_are_verbatim(
    name: str, answerable_floor: int, unanswerable_floor: int
) -> None:
    root = Path(__file__).parent
    questions = load_questions(root / "eval" / name)
    corpus = root.parent / "corpus"
    import tomllib

    manifest = tomllib.loads((corpus / "corpus.toml").read_text())
    texts = {entry["doc_id"]: (corpus / name).read_text() for name, entry in manifest.items()}
    answerable = [q for q in questions if q.kind != "unanswerable"]
    assert len(answerable) >= answerable_floor
    assert len(questions) - len(answerable) >= unanswerable_floor
    assert len({q.id for q in questions}) == len(questions)
    assert {q.doc_id for q in answerable} == set(texts)
    for q in answerable:
        assert q.evidence and q.evidence in texts[str(q.doc_id)], q.id


@pytest.mark.parametrize(
    ("name", "earlier"),
    [
        ("validation.jsonl", ["questions.jsonl", "questions-2.jsonl"]),
        ("validation-2.jsonl", ["questions.jsonl", "questions-2.jsonl", "validation.jsonl"]),
        ("validation-3.jsonl", [*DEVELOPMENT, "validation.jsonl", "validation-2.jsonl"]),
    ],
)
def test_a_validation_set_shares_no_evidence_with_the_other_sets(
    name: str, earlier: list[str]
) -> None:
    """The validation questions measure what tuning on the development set generalises to,
    so they must not quote the same text; each batch adds new evidence, not repeats."""
    root = Path(__file__).parent / "eval"
    quotes = [q.evidence for set_ in earlier for q in load_questions(root / set_) if q.evidence]
    for q in load_questions(root / name):
        if q.evidence:
            for quote in quotes:
                match = SequenceMatcher(None, q.evidence, quote, autojunk=False)
                longest = match.find_longest_match(0, len(q.evidence), 0, len(quote))
                assert longest.size < 40, (q.id, quote)
