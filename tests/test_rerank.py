"""The second stage: a cross-encoder re-reads the first stage's best candidates."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from core.records import DocumentInfo, Filters, Highlight, Hit, Metadata, Mode, Passage, Why
from core.settings import Settings
from index import rerank
from index.rerank import (
    CrossEncoder,
    cross_encoder_logits,
    load_reranker,
    rerank_text,
    reranked,
    whole_text,
)
from index.searcher import Searcher

DOCUMENT = DocumentInfo("d", "d.md", "text", "0" * 64, Metadata(title="D"), 1, 3)


def hit(rank: int, text: str, score: float, section: tuple[str, ...] = ()) -> Hit:
    passage = Passage(f"p{rank}", "d", rank, text, 0, len(text), section)
    why = Why(None, None, None, None, fused=score)
    return Hit(rank, score, passage, DOCUMENT, why)


@pytest.fixture(scope="module")
def cross_encoder() -> CrossEncoder:
    return CrossEncoder()


def test_the_packaged_cross_encoder_scores_like_the_published_model(
    cross_encoder: CrossEncoder,
) -> None:
    # The fp32 model gives 9.33 and -2.04; the int8 files within a few tenths of that.
    paris, berlin = cross_encoder.score(
        "What is the capital of France?",
        ["Paris is the capital of France.", "Berlin is the capital of Germany."],
    )
    assert paris == pytest.approx(9.33, abs=0.6) and berlin == pytest.approx(-2.04, abs=0.6)
    assert cross_encoder.score("anything", []).shape == (0,)


def test_pairs_read_side_by_side_score_as_one_at_a_time(cross_encoder: CrossEncoder) -> None:
    texts = [f"Passage {i} says the capital of country {i} is city {i}." for i in range(7)]
    texts[4] = "Paris is the capital of France, and the seat of its government."
    one_at_a_time = CrossEncoder(threads=1).score("What is the capital of France?", texts)
    side_by_side = CrossEncoder(threads=3).score("What is the capital of France?", texts)
    # Same logits in the same order, so each stays with its passage.
    assert side_by_side.tolist() == one_at_a_time.tolist()
    assert int(np.argmax(side_by_side)) == 4


def test_texts_with_their_own_budgets_score_as_read_with_each_budget_alone(
    cross_encoder: CrossEncoder,
) -> None:
    question = "What is the capital of France?"
    long = "Paris is the capital of France. " + "It has many museums. " * 60
    texts = ["Berlin is the capital of Germany.", long, "Paris is in France.", long]
    budgets = [rerank.MAX_TOKENS, rerank.WHOLE_TOKENS, rerank.MAX_TOKENS, rerank.MAX_TOKENS]
    # Side by side the longest runs go first; each logit still comes back to its text.
    mixed = CrossEncoder(threads=2).score(question, texts, budgets)
    one = CrossEncoder(threads=1)
    alone = [float(one.score(question, [t], b)[0]) for t, b in zip(texts, budgets, strict=True)]
    assert mixed.tolist() == alone
    assert mixed[1] != mixed[3]  # the same text, read to two budgets
    with pytest.raises(ValueError, match="3 token budgets for 4 texts"):
        cross_encoder.score(question, texts, budgets[:3])
    with pytest.raises(ValueError, match="max_tokens 512"):
        cross_encoder.score(question, texts[:2], [rerank.MAX_TOKENS, 512])


def test_the_real_model_puts_the_answer_first_among_equal_candidates(
    cross_encoder: CrossEncoder,
) -> None:
    question = "Which city is the capital of France?"
    hits = [
        hit(1, "France has many cities and a long history of capital investment.", 0.5),
        hit(2, "Berlin is the capital of Germany.", 0.5),
        hit(3, "Paris is the capital of France.", 0.5),
    ]
    ordered = reranked(hits, cross_encoder.score(question, [rerank_text(h) for h in hits]))
    assert ordered[0].passage.passage_id == "p3"
    assert [h.rank for h in ordered] == [1, 2, 3]
    assert ordered[0].why.rerank_rank == 1 and ordered[0].why.rerank_score is not None


def test_both_stages_decide_and_unread_candidates_follow_on_the_same_scale() -> None:
    hits = [hit(1, "a", 0.6), hit(2, "b", 0.5), hit(3, "c", 0.2), hit(4, "d", 0.1)]
    logits = np.array([-2.0, 8.0, 0.0], dtype=np.float32)  # the fourth was not read
    ordered = reranked(hits, logits)
    assert [h.passage.passage_id for h in ordered] == ["p2", "p1", "p3", "p4"]
    assert [h.why.rerank_rank for h in ordered] == [1, 3, 2, None]
    scores = [h.score for h in ordered]
    assert scores == sorted(scores, reverse=True)
    assert ordered[-1].score == pytest.approx(rerank.FIRST_STAGE_WEIGHT * 0.1)
    # A first stage far ahead is not overturned by a mild reading of the cross-encoder.
    sure = [hit(1, "a", 0.9), hit(2, "b", 0.5)]
    assert reranked(sure, np.array([-1.0, 1.0], dtype=np.float32))[0].passage.passage_id == "p1"


def test_the_cross_encoder_reads_the_heading_and_the_highlights_in_reading_order() -> None:
    text = "First sentence. Second sentence. Third sentence. Fourth sentence."
    h = hit(1, text, 0.5, section=("Report", "2. Findings"))
    spans = [(49, 65, 0.9), (16, 32, 0.88)]  # best first, as the highlighter ranks them
    h = Hit(**{**h.__dict__, "highlights": tuple(Highlight(a, b, s) for a, b, s in spans)})
    assert rerank_text(h) == "2. Findings: Second sentence. … Fourth sentence."
    assert rerank_text(hit(2, "Just text.", 0.5)) == "Just text."
    assert whole_text(h) == f"2. Findings: {text}"
    assert whole_text(hit(2, "Just text.", 0.5)) == "Just text."


def test_reading_the_leading_passage_whole_finds_an_answer_its_highlights_missed(
    cross_encoder: CrossEncoder,
) -> None:
    question = "Which city is the capital of France?"
    text = "France has a long history of trade. Paris is the capital of France."
    missed = hit(1, text, 0.5)  # the first stage highlighted the wrong sentence
    missed = Hit(**{**missed.__dict__, "highlights": (Highlight(0, 35, 0.9),)})
    other = hit(2, "Berlin is the capital of Germany.", 0.5)
    by_highlights = cross_encoder.score(question, [rerank_text(missed), rerank_text(other)])
    both = cross_encoder_logits(cross_encoder, question, [missed, other])
    assert both[0] > by_highlights[0] + 2
    assert reranked([missed, other], both)[0].passage.passage_id == "p1"
    assert reranked([missed, other], by_highlights)[0].passage.passage_id == "p2"


def test_the_cross_encoder_reads_only_the_input_budgets_it_was_built_for(
    cross_encoder: CrossEncoder,
) -> None:
    long = "Paris is the capital of France. " + "It has many museums. " * 60
    cut, whole = (
        cross_encoder.score("What is the capital of France?", [long], max_tokens=budget)[0]
        for budget in (rerank.MAX_TOKENS, rerank.WHOLE_TOKENS)
    )
    assert cut != whole  # the longer budget reads more of the passage
    with pytest.raises(ValueError, match="max_tokens 512"):
        cross_encoder.score("anything", ["text"], max_tokens=512)


class KeywordReranker:
    """Scores a text by whether it holds a word: a stand-in whose order is known."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[int] = []
        self.questions: list[str] = []

    @property
    def name(self) -> str:
        return "keyword-reranker"

    def score(
        self, question: str, texts: Sequence[str], max_tokens: rerank.Budgets = rerank.MAX_TOKENS
    ) -> npt.NDArray[np.float32]:
        self.calls.append(len(texts))
        self.questions.append(question)
        return np.array([9.0 if self.word in t else -9.0 for t in texts], dtype=np.float32)


def test_precise_mode_reranks_the_first_stage_and_fast_mode_does_not(
    small_index: Settings,
) -> None:
    spy = KeywordReranker("Mayors")
    searcher = Searcher.open_current(small_index.index_dir, reranker=spy)
    question = "migration data and partners"
    fast = searcher.search(question, 3, mode=Mode.FAST)
    assert spy.calls == [] and fast.stages.reranked == 0 and fast.stages.reranker is None
    deep = searcher.search(question, rerank.DEPTH, mode=Mode.FAST).hits
    precise = searcher.search(question, 3)
    # Every candidate's highlights and the leading ones whole, in one call.
    assert spy.calls == [len(deep) + min(rerank.WHOLE_DEPTH, len(deep))]
    expected = reranked(deep, cross_encoder_logits(spy, question, deep))[:3]
    assert [h.passage.passage_id for h in precise.hits] == [h.passage.passage_id for h in expected]
    assert [h.why.rerank_rank for h in precise.hits] == [h.why.rerank_rank for h in expected]
    assert [h.rank for h in precise.hits] == [1, 2, 3]
    assert precise.stages.mode is Mode.PRECISE and precise.stages.reranker == "keyword-reranker"
    assert precise.stages.reranked == len(deep) and precise.stages.rerank_ms > 0
    assert precise.stages.read_whole == min(rerank.WHOLE_DEPTH, len(deep))
    assert fast.stages.read_whole == 0
    # Confidence reads the first stage, so both modes agree on it.
    assert precise.confidence == pytest.approx(fast.confidence)


def test_the_cross_encoder_reads_the_question_without_where_it_says_to_look(
    small_index: Settings,
) -> None:
    spy = KeywordReranker("Mayors")
    searcher = Searcher.open_current(small_index.index_dir, reranker=spy)
    searcher.search("Which partners were involved, according to the beta submission?", 3)
    assert spy.questions == ["Which partners were involved?"]  # both readings, one call


def test_where_the_question_shares_few_words_the_cross_encoder_counts_less(
    small_index: Settings,
) -> None:
    mayors = Searcher.open_current(small_index.index_dir, reranker=KeywordReranker("Mayors"))
    sure = mayors.search("What changed priorities?", 3)  # its rare words are in the text
    assert sure.stages.rerank_weight == 1.0 and "Mayors" in sure.hits[0].passage.text
    spy = KeywordReranker("Remittances")
    searcher = Searcher.open_current(small_index.index_dir, reranker=spy)
    question = "Who took part in the pandemic work of cities?"  # no rare word in common
    vague = searcher.search(question, rerank.DEPTH)
    assert vague.stages.rerank_weight == rerank.TRUST_FLOOR and vague.stages.reranked > 0
    deep = searcher.search(question, rerank.DEPTH, mode=Mode.FAST).hits
    logits = cross_encoder_logits(spy, question, deep)
    floored = reranked(deep, logits, rerank.TRUST_FLOOR)
    assert [h.score for h in vague.hits] == pytest.approx([h.score for h in floored])
    assert [h.passage.passage_id for h in vague.hits] == [h.passage.passage_id for h in floored]
    # The same reading, fully trusted, moves its favourite further up than at the floor.
    trusted = reranked(deep, logits)
    position = [
        next(h.rank for h in hits if "Remittances" in h.passage.text)
        for hits in (deep, floored, trusted)
    ]
    assert position[2] == 1 and position[0] >= position[1] >= position[2]
    assert position[0] > 1


def test_precise_mode_keeps_filters_and_highlights(small_index: Settings) -> None:
    searcher = Searcher.open_current(small_index.index_dir, reranker=KeywordReranker("Mayors"))
    only_alpha = searcher.search("partners health", 5, Filters(doc_ids=frozenset({"alpha"})))
    assert only_alpha.hits and all(h.document.doc_id == "alpha" for h in only_alpha.hits)
    assert all(h.highlights for h in only_alpha.hits)


def test_no_reranker_configured_means_precise_ranks_as_fast(small_index: Settings) -> None:
    assert load_reranker("none") is None
    searcher = Searcher.open_current(small_index.index_dir)
    precise, fast = (searcher.search("remittances", 3, mode=m) for m in (Mode.PRECISE, Mode.FAST))
    assert [h.passage.passage_id for h in precise.hits] == [h.passage.passage_id for h in fast.hits]
    assert precise.stages.reranked == 0
    with pytest.raises(ValueError, match="use 'iomqa/ms-marco-MiniLM-L-12-v2-idm', 'cross-"):
        load_reranker("bm25")


def test_a_passage_scores_the_same_whatever_it_is_read_beside(
    cross_encoder: CrossEncoder,
) -> None:
    question = "How many Member States did the IOM Council have in 2018?"
    answer = "The IOM Council, currently consisting of 169 Member States, met in Geneva."
    long_neighbour = "Migration governance " * 60
    alone = cross_encoder.score(question, [answer])[0]
    beside = cross_encoder.score(question, [answer, long_neighbour])[0]
    assert beside == alone
