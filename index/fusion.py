"""Combining keyword and dense evidence into one ranking. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from index.hints import Bonus

RRF_K = 60


@dataclass(frozen=True)
class Fused:
    row: int
    fused: float
    bm25_rank: int | None
    bm25_score: float | None
    dense_rank: int | None
    dense_score: float | None
    # What the question's hints added to the fused score, and why (index.hints).
    bonus: float = 0.0
    hints: tuple[str, ...] = ()


def _order(fused: list[Fused]) -> list[Fused]:
    fused.sort(key=lambda f: (-f.fused, f.dense_rank or 1 << 30, f.row))
    return fused


def _explain(
    scores: dict[int, float],
    bm25: Sequence[tuple[int, float]],
    dense: Sequence[tuple[int, float]],
) -> list[Fused]:
    b = {row: (rank, s) for rank, (row, s) in enumerate(bm25, start=1)}
    d = {row: (rank, s) for rank, (row, s) in enumerate(dense, start=1)}
    fused = [
        Fused(
            row=row,
            fused=score,
            bm25_rank=b[row][0] if row in b else None,
            bm25_score=b[row][1] if row in b else None,
            dense_rank=d[row][0] if row in d else None,
            dense_score=d[row][1] if row in d else None,
        )
        for row, score in scores.items()
    ]
    return _order(fused)


def reciprocal_rank_fusion(
    bm25: Sequence[tuple[int, float]],
    dense: Sequence[tuple[int, float]],
    *,
    k: int = RRF_K,
    bm25_weight: float = 1.0,
    dense_weight: float = 1.0,
) -> list[Fused]:
    """score(d) = sum over lists of weight / (k + rank(d)), ranks from 1.

    Cormack, Clarke & Büttcher (2009), "Reciprocal Rank Fusion outperforms Condorcet and
    individual Rank Learning Methods", SIGIR. Ties break on the dense rank, then row.
    """
    scores: dict[int, float] = {}
    for results, weight in ((bm25, bm25_weight), (dense, dense_weight)):
        for rank, (row, _) in enumerate(results, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank)
    return _explain(scores, bm25, dense)


def convex_fusion(
    bm25: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], *, alpha: float
) -> list[Fused]:
    """score(d) = alpha * bm25(d) / max bm25 + (1 - alpha) * cosine(d).

    A convex combination with theoretical-minimum normalisation (BM25 and cosine both
    bottom out at 0 here), the "TM2C2" family of Bruch, Gai & Ingber (2023), "An Analysis
    of Fusion Functions for Hybrid Retrieval", ACM TOIS 42(1). Unlike RRF it keeps how
    far ahead a result is, which matters when one retriever is sure and the other is not.
    A result missing from a list scores that list's lowest retrieved value.
    """
    if not bm25 and not dense:
        return []
    top = bm25[0][1] if bm25 and bm25[0][1] > 0 else 1.0
    b_floor = bm25[-1][1] / top if bm25 else 0.0
    d_floor = dense[-1][1] if dense else 0.0
    b = {row: s / top for row, s in bm25}
    d = dict(dense)
    scores = {
        row: alpha * b.get(row, b_floor) + (1 - alpha) * d.get(row, d_floor)
        for row in b.keys() | d.keys()
    }
    return _explain(scores, bm25, dense)


def with_bonus(fused: Fused, bonus: Bonus) -> Fused:
    """One result with a bonus (or penalty) added to its score and its reasons recorded."""
    if not bonus.value:
        return fused
    return replace(
        fused,
        fused=fused.fused + bonus.value,
        bonus=fused.bonus + bonus.value,
        hints=fused.hints + bonus.reasons,
    )


def add_bonuses(fused: Sequence[Fused], bonuses: Mapping[int, Bonus]) -> list[Fused]:
    """The fused ranking with each row's bonus added to its score, re-ordered."""
    return _order([with_bonus(f, b) if (b := bonuses.get(f.row)) else f for f in fused])


def evidence_ramp(strength: float, *, weak: float, strong: float) -> float:
    """0 at or below `weak` keyword evidence, 1 at or above `strong`, linear between.

    `strength` is the best BM25 score over the question's total idf: near 0 when the
    question shares few rare words with any passage (a paraphrase), 0.3 and more when a
    passage holds most of its terms (a number, a name, the documents' own term).
    """
    if strong <= weak:
        raise ValueError("need weak < strong")
    return min(1.0, max(0.0, (strength - weak) / (strong - weak)))


def rerank_trust(strength: float, *, floor: float, weak: float, strong: float) -> float:
    """How much the cross-encoder's reading counts for a question whose lexical evidence
    is `strength`: `floor` at `weak` evidence, all of it at `strong` (`evidence_ramp`).

    Trained on web queries that share words with their answers, the cross-encoder ranks
    paraphrased questions less reliably than questions using the passage's words; below
    the floor it would still lift a paraphrase's evidence more often than it sinks it.
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError("floor must be within 0-1")
    return floor + (1.0 - floor) * evidence_ramp(strength, weak=weak, strong=strong)


def bm25_share(strength: float, *, low: float, high: float, weak: float, strong: float) -> float:
    """BM25's share in the fusion for a question whose lexical evidence is `strength`:
    `low` at `weak` evidence, `high` at `strong` (`evidence_ramp`).

    Keyword scores are max-normalised before fusion, so the best keyword match counts as
    fully as an exact one however weak it is; lowering BM25's share when the evidence is
    weak lets the dense side decide.
    """
    return low + (high - low) * evidence_ramp(strength, weak=weak, strong=strong)


def multi_granularity(
    passages: Sequence[tuple[int, float]],
    units: Sequence[tuple[int, float]],
    owner: npt.NDArray[np.int64],
    *,
    passage_weight: float,
) -> list[tuple[int, float]]:
    """Dense score of a passage from the passage vector and its best sentence vector.

    A question paraphrasing one sentence matches that sentence better than the passage
    around it. Scores missing from a list take that list's lowest retrieved value.
    """
    best: dict[int, float] = {}
    for unit, score in units:
        row = int(owner[unit])
        if score > best.get(row, -2.0):
            best[row] = score
    whole = dict(passages)
    p_floor = passages[-1][1] if passages else 0.0
    u_floor = units[-1][1] if units else 0.0
    combined = {
        row: passage_weight * whole.get(row, p_floor)
        + (1 - passage_weight) * best.get(row, u_floor)
        for row in whole.keys() | best.keys()
    }
    return sorted(combined.items(), key=lambda item: (-item[1], item[0]))


def rerank_fusion(
    logits: npt.NDArray[np.float32],
    first_stage: npt.NDArray[np.float32],
    *,
    temperature: float,
    weight: float,
    trust: float = 1.0,
) -> npt.NDArray[np.float32]:
    """score(d) = trust * softmax(logits / temperature)(d) + weight * first_stage(d).

    The softmax over the candidates read is the cross-encoder's "top-one probability"
    (Cao et al. 2007, "Learning to Rank: From Pairwise Approach to Listwise Approach"):
    its belief that this candidate is the best of them. It compares candidates within one
    question, where the cross-encoder's logits are reliable, rather than trusting their
    absolute level, which drifts from question to question; when it finds them all alike
    its shares are even and the first stage decides. The temperature flattens it so one
    confident misreading cannot outrank a passage both retrievers agree on. The first
    stage's own score keeps the evidence the cross-encoder never sees: whole headings,
    document titles and years, hints (Nogueira & Cho 2019, "Passage Re-ranking with
    BERT", rerank the first stage's candidates; interpolating with the first-stage score
    is the usual remedy for domain shift). `trust` (0–1) scales the cross-encoder's share
    for questions where its reading is known to be weaker.
    """
    if logits.size == 0:
        return np.asarray(weight * first_stage, dtype=np.float32)
    shifted = np.exp((logits - logits.max()) / temperature)  # stable: the largest is 1
    share = trust * shifted / shifted.sum()
    return np.asarray(share + weight * first_stage, dtype=np.float32)


def mean_of_readings(
    first: npt.NDArray[np.float32], second: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The mean of two readings of each candidate, where both exist; the first alone after.

    `second` reads the first len(second) candidates again, from another view of the same
    passage. Scoring one document from several inputs and aggregating is how Dai &
    Callan 2019 ("Deeper Text Understanding for IR with Contextual Neural Language
    Modeling") let a BERT ranker read more than fits in one input (their SumP adds the
    passages' scores); on an int8 model the mean also evens out part of the
    quantisation noise of a single run.
    """
    read_twice = len(second)
    combined = first.astype(np.float32, copy=True)
    combined[:read_twice] = (first[:read_twice] + second) / 2
    return combined
