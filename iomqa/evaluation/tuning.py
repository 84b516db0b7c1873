"""Training data from a question set's evidence: pairs for the tuned embedder
(`ingest.tune`) and readings for the tuned cross-encoder (`ingest.tune_reranker`).

Each answerable question gives two pairs: the question with the passage holding its
evidence, as the retrievers read it (title, headings, text), and the question with the
sentence of that passage that shares most words with the evidence quote, since the dense
score reads the best sentence too. The passage pair carries one hard negative: the first
passage the served generation's first stage ranks for the question that does not hold the
evidence. docs/experiments.md, row 103.

The cross-encoder learns from what precise mode has it read for each question: the
highlights of the first stage's best candidates and the leading ones whole, each marked by
whether it holds the evidence (row 106). It learns from deeper readings (READ_DEPTH,
READ_WHOLE) than precise mode now makes at query time (row 110 cut those for speed): more
candidates teach more, and the shipped readings file was written at these depths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from core.records import Document, Mode, Passage
from core.settings import Settings
from index.attribution import without_attribution
from index.build import context_text
from index.rerank import MAX_TOKENS, WHOLE_TOKENS, rerank_text, whole_text
from index.searcher import Searcher
from ingest.chunk import sentence_spans
from ingest.tune import TrainingPair, write_pairs
from ingest.tune_reranker import QuestionReadings, Reading, write_readings
from iomqa.evaluation.harness import Question
from iomqa.evaluation.metrics import contains_evidence, fold

NEGATIVES = 1
SEARCH_DEPTH = 10
READ_DEPTH = 8  # candidates whose highlights each question's readings hold
READ_WHOLE = 2  # of them, the leading ones read whole as well


def training_pairs(searcher: Searcher, questions: Sequence[Question]) -> list[TrainingPair]:
    """Two pairs per answerable question whose evidence a passage holds."""
    passages = searcher.passages_in_rows()
    # Each document once: every pair reads its passages with their titles and headings.
    documents = {d.doc_id: searcher.load_document(d.doc_id) for d in searcher.documents()}
    pairs: list[TrainingPair] = []
    for q in questions:
        evidence = q.evidence or ""
        holding = [p for p in passages if evidence and contains_evidence(p.text, evidence)]
        if not holding:
            continue
        passage = holding[0]
        ranked = searcher.search(q.question, SEARCH_DEPTH, mode=Mode.FAST).hits
        negatives = [h.passage for h in ranked if not contains_evidence(h.passage.text, evidence)]
        # The dense side reads the question without its attribution (Searcher.search).
        asked = without_attribution(q.question)
        pairs.append(
            TrainingPair(
                asked,
                _read(documents, passage),
                tuple(_read(documents, n) for n in negatives[:NEGATIVES]),
            )
        )
        pairs.append(TrainingPair(asked, best_sentence(passage.text, evidence)))
    return pairs


def best_sentence(text: str, evidence: str) -> str:
    """The sentence of `text` sharing the most (folded) words with the evidence quote."""
    wanted = set(fold(evidence).split())
    spans = sentence_spans(text, 0, len(text)) or [(0, len(text))]
    start, end = max(spans, key=lambda s: len(set(fold(text[s[0] : s[1]]).split()) & wanted))
    return text[start:end]


def _read(documents: Mapping[str, Document | None], passage: Passage) -> str:
    document = documents.get(passage.doc_id)
    return context_text(document, passage) if document else passage.text


def question_readings(searcher: Searcher, questions: Sequence[Question]) -> list[QuestionReadings]:
    """What the cross-encoder reads for each answerable question, marked by evidence."""
    found = []
    for q in questions:
        if not q.evidence:
            continue
        evidence = q.evidence
        hits = searcher.search(q.question, READ_DEPTH, mode=Mode.FAST).hits[:READ_DEPTH]
        holds = tuple(contains_evidence(h.passage.text, evidence) for h in hits)
        highlights = Reading(tuple(rerank_text(h) for h in hits), holds, MAX_TOKENS)
        whole = Reading(
            tuple(whole_text(h) for h in hits[:READ_WHOLE]), holds[:READ_WHOLE], WHOLE_TOKENS
        )
        # The cross-encoder reads the question as `rerank.cross_encoder_logits` gives it.
        found.append(QuestionReadings(without_attribution(q.question), (highlights, whole)))
    return found


def write_tuning_pairs(settings: Settings, questions: Sequence[Question], path: Path) -> str:
    """Write the served generation's training pairs for these questions; say how many."""
    searcher = Searcher.open_current(settings.index_dir, settings.model_source, adapt=False)
    try:
        pairs = training_pairs(searcher, questions)
    finally:
        searcher.close()
    write_pairs(path, pairs)
    asked = sum(1 for q in questions if q.evidence)
    return f"{len(pairs)} tuning pairs from {asked} answerable questions -> {path}"


def write_reranker_readings(settings: Settings, questions: Sequence[Question], path: Path) -> str:
    """Write the served generation's cross-encoder readings; say how many teach."""
    searcher = Searcher.open_current(settings.index_dir, settings.model_source, adapt=False)
    try:
        found = question_readings(searcher, questions)
    finally:
        searcher.close()
    write_readings(path, found)
    teaching = sum(1 for q in found if any(len(set(r.holds)) == 2 for r in q.readings))
    return f"readings of {len(found)} questions ({teaching} with evidence to rank) -> {path}"
