"""Second stage: a cross-encoder reads the question with each of the first stage's best
candidates, and the two stages' evidence decides the final order."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding

from core.models import MS_MARCO_RERANKER, TUNED_RERANKER
from core.records import Hit, Passage
from core.settings import model_threads
from index.attribution import without_attribution
from index.fusion import mean_of_readings, rerank_fusion
from index.highlight import highlighted_text
from ingest.packaged import onnx_session, packaged_folder, padded_batch, unpadded_tokenizer
from ingest.tune_reranker import MODEL_FILE, TOKENIZER_FILE, tuned_reranker

NO_RERANKER = "none"
# Measured on the development set (docs/experiments.md): a plateau over 4–10 candidates,
# 128 tokens for the passage's highlighted sentences, and the leading 1–3 read whole too
# (the highlights are chosen by the first stage's sentence vectors and can miss the
# sentence that answers). Row 110, two-fold with the tuned models: 6 and 1 put one
# question more first than 8 and 2 (before), every cell with a whole reading lies within
# two questions of it, and a whole reading costs about two highlight readings: 6 and 1 is
# 8 runs' work against 12, what keeps the budget on CPUs without int8 dot products.
DEPTH = 6  # candidates the cross-encoder reads
MAX_TOKENS = 128  # question and passage together
WHOLE_DEPTH = 1
WHOLE_TOKENS = 192  # 98% of this corpus's passages fit whole beside a 20-word question
# The cross-encoder's share (a softmax over the candidates read) at this temperature, plus
# the first stage's score at this weight. With the tuned embedder the first stage ranks
# better on its own, and its score counts for more: the centre of a plateau on the
# development set, each question asked through a model tuned without it (weight 2–4 x
# temperature 1–3; docs/experiments.md, row 104; before tuning, row 63 chose 1.25).
TEMPERATURE = 2.0
FIRST_STAGE_WEIGHT = 2.0
# The cross-encoder's share is scaled by the question's keyword evidence, from this floor
# for paraphrases up to 1 (`fusion.rerank_trust`). With the base embedder a floor of 0.2
# let it lift paraphrases that keep none of the passage's words (rows 73, 89, 91); the
# tuned embedder ranks those better than the cross-encoder reads them (row 104), so a
# paraphrase keeps the first stage's order. It is still read: its logit feeds confidence.
TRUST_FLOOR = 0.0

# How many tokens the cross-encoder reads: one budget for every text, or one per text.
Budgets: TypeAlias = int | Sequence[int]


class Reranker(Protocol):
    @property
    def name(self) -> str: ...

    def score(
        self, question: str, texts: Sequence[str], max_tokens: Budgets = MAX_TOKENS
    ) -> npt.NDArray[np.float32]:
        """One relevance logit per text, question and text cut to its budget together;
        higher is more relevant."""
        ...


class CrossEncoder:
    """ms-marco-MiniLM-L-12-v2, int8 ONNX: from its packaged files, or tuned from them
    (`ingest.tune_reranker`) when given the tuned model's folder and name."""

    def __init__(
        self, folder: Path | None = None, name: str = MS_MARCO_RERANKER.model_id, threads: int = 0
    ) -> None:
        folder = folder or packaged_folder(MS_MARCO_RERANKER)
        self._name = name
        # One tokenizer per input budget: truncation is a tokenizer setting, and changing
        # it per call would race between requests served in parallel.
        self._tokenizers = {
            budget: unpadded_tokenizer(folder / TOKENIZER_FILE, budget, pairs=True)
            for budget in (MAX_TOKENS, WHOLE_TOKENS)
        }
        # Pairs run side by side, one thread each, rather than one after another on all
        # threads: a single pair's matrices are too small to split well. 10 pairs on 2
        # cores: 92 ms against 194 ms, the same logits (docs/experiments.md, row 87).
        self._session = onnx_session(folder / MODEL_FILE, threads=1)
        self._side_by_side = threads or model_threads()

    @property
    def name(self) -> str:
        return self._name

    def score(
        self, question: str, texts: Sequence[str], max_tokens: Budgets = MAX_TOKENS
    ) -> npt.NDArray[np.float32]:
        budgets = [max_tokens] * len(texts) if isinstance(max_tokens, int) else list(max_tokens)
        if len(budgets) != len(texts):
            raise ValueError(f"{len(budgets)} token budgets for {len(texts)} texts")
        for budget in budgets:
            if budget not in self._tokenizers:
                raise ValueError(f"max_tokens {budget}: use one of {sorted(self._tokenizers)}")
        # One pair per run. The int8 model quantises activations per run, over padding
        # too, so in a batch a passage's score would depend on its neighbours' lengths
        # (by up to half a logit); alone it is reproducible, and no faster to batch.
        encodings = [
            self._tokenizers[b].encode(question, t) for t, b in zip(texts, budgets, strict=True)
        ]
        if self._side_by_side == 1 or len(encodings) < 2:
            return np.array([self._logit(e) for e in encodings], dtype=np.float32)
        # Longest first, so that no long run starts last while the other threads idle
        # (Graham 1969, "Bounds on multiprocessing timing anomalies": the makespan of
        # longest-first list scheduling is within 4/3 of the best).
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        logits = np.empty(len(encodings), dtype=np.float32)
        # A pool per call, not per object: threads do not survive a fork, and two threads
        # cost a fraction of a millisecond against about 10 ms per pair.
        with ThreadPoolExecutor(min(self._side_by_side, len(encodings))) as runs:
            logits[order] = list(runs.map(self._logit, [encodings[i] for i in order]))
        return logits

    def _logit(self, encoding: Encoding) -> float:
        return float(self._session.run(None, dict(padded_batch([encoding])))[0][0, 0])


@cache
def load_reranker(name: str, cache_dir: Path = Path("var/models")) -> Reranker | None:
    """The configured second stage, loaded once per process; None when it is turned off.
    The tuned cross-encoder is built into `cache_dir` on first use (minutes, once)."""
    if name == NO_RERANKER:
        return None
    if name == MS_MARCO_RERANKER.model_id:
        return CrossEncoder()
    if name == TUNED_RERANKER:
        return tuned_cross_encoder(cache_dir)
    raise ValueError(
        f"reranker {name!r}: use {TUNED_RERANKER!r}, {MS_MARCO_RERANKER.model_id!r} "
        f"or {NO_RERANKER!r}"
    )


def tuned_cross_encoder(cache_dir: Path, readings: Path | None = None) -> CrossEncoder:
    """The cross-encoder tuned on `readings` (None: the shipped ones)."""
    base = packaged_folder(MS_MARCO_RERANKER)
    return CrossEncoder(tuned_reranker(cache_dir, base, readings), TUNED_RERANKER)


def rerank_text(hit: Hit) -> str:
    """The passage as the cross-encoder reads it: its innermost heading, then its
    highlighted sentences in reading order (the best one, and the runner-up when nearly as
    good). Read alone, whole passages bury the answer, and the next-best sentences after
    the highlights only add noise (docs/experiments.md, rows 44 and 57)."""
    return _headed(hit.passage, highlighted_text(hit.passage.text, hit.highlights))


def whole_text(hit: Hit) -> str:
    """The passage read whole: its innermost heading, then all of its text."""
    return _headed(hit.passage, hit.passage.text)


def _headed(passage: Passage, body: str) -> str:
    return f"{passage.section[-1]}: {body}" if passage.section else body


def cross_encoder_logits(
    reranker: Reranker, question: str, hits: Sequence[Hit]
) -> npt.NDArray[np.float32]:
    """One logit for each of the first DEPTH hits: its highlights read, and for the
    leading WHOLE_DEPTH the mean of that reading and of the whole passage's. The
    cross-encoder reads the question without its "according to …" clause or the year that
    dates its source: the passages it reads rarely name their own (docs/experiments.md,
    rows 64 and 76)."""
    asked = without_attribution(question)
    candidates = hits[:DEPTH]
    leading = candidates[:WHOLE_DEPTH]
    # One call for both readings, so their runs share the threads as one queue.
    logits = reranker.score(
        asked,
        [rerank_text(h) for h in candidates] + [whole_text(h) for h in leading],
        [MAX_TOKENS] * len(candidates) + [WHOLE_TOKENS] * len(leading),
    )
    return mean_of_readings(logits[: len(candidates)], logits[len(candidates) :])


def reranked(hits: Sequence[Hit], logits: npt.NDArray[np.float32], trust: float = 1.0) -> list[Hit]:
    """The hits in their final order, numbered again. The first len(logits) were read by
    the cross-encoder and carry its score and rank, its share weighed by `trust` (0–1);
    the rest follow in their order, scored as if it had found them irrelevant, so every
    hit's score is on one scale."""
    read = hits[: len(logits)]
    first = np.array([h.score for h in read], dtype=np.float32)
    final = rerank_fusion(
        logits, first, temperature=TEMPERATURE, weight=FIRST_STAGE_WEIGHT, trust=trust
    )
    by_logit = {int(i): rank for rank, i in enumerate(np.argsort(-logits, kind="stable"), 1)}
    ordered = [
        replace(
            read[i],
            score=float(final[i]),
            why=replace(read[i].why, rerank_score=float(logits[i]), rerank_rank=by_logit[int(i)]),
        )
        for i in np.argsort(-final, kind="stable")
    ]
    unread = [replace(h, score=FIRST_STAGE_WEIGHT * h.score) for h in hits[len(logits) :]]
    return [replace(h, rank=rank) for rank, h in enumerate([*ordered, *unread], start=1)]
