"""Scoring of ranked passages against evidence quotes. Pure functions.

A passage answers a question when it contains at least half of the evidence quote as one
contiguous run (after folding case, Unicode forms, markup asterisks and whitespace). The
test depends only on the returned text, so differently chunked systems compare fairly.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np
import numpy.typing as npt

_SPACE = re.compile(r"\s+")
COVERAGE = 0.5
MAX_PASSAGE_CHARS = 1500  # longer passages are cut before scoring, as in the reference runs


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("*", "").lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return _SPACE.sub(" ", text).strip()


def contains_evidence(passage: str, quote: str, coverage: float = COVERAGE) -> bool:
    p, q = fold(passage[:MAX_PASSAGE_CHARS]), fold(quote)
    if not q:
        return False
    if q in p:
        return True
    match = SequenceMatcher(None, q, p, autojunk=False).find_longest_match(0, len(q), 0, len(p))
    return match.size >= coverage * len(q)


def first_hit(passages: Sequence[str], quote: str) -> int | None:
    """1-based rank of the first passage holding the evidence, or None."""
    for rank, text in enumerate(passages, start=1):
        if contains_evidence(text, quote):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg(rank: int | None, k: int = 10) -> float:
    """Binary relevance with one relevant passage: 1 / log2(rank + 1)."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half).

    The Mann–Whitney U statistic divided by n_pos * n_neg (Hanley & McNeil 1982).
    """
    if not positives or not negatives:
        return float("nan")
    return float(_wins(positives, negatives).mean())


def _wins(positives: Sequence[float], negatives: Sequence[float]) -> npt.NDArray[np.float64]:
    """wins[i, j]: 1 when positive i scores above negative j, 0.5 on a tie, else 0."""
    pos = np.asarray(positives, dtype=np.float64)[:, None]
    neg = np.asarray(negatives, dtype=np.float64)[None, :]
    return np.asarray((pos > neg) + 0.5 * (pos == neg), dtype=np.float64)


@dataclass(frozen=True)
class Summary:
    n: int
    hit1: float
    hit5: float
    hit10: float
    mrr10: float
    ndcg10: float


def summarise(ranks: Sequence[int | None]) -> Summary:
    n = len(ranks)
    if n == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return Summary(
        n=n,
        hit1=sum(hit_at(r, 1) for r in ranks) / n,
        hit5=sum(hit_at(r, 5) for r in ranks) / n,
        hit10=sum(hit_at(r, 10) for r in ranks) / n,
        mrr10=sum(reciprocal_rank(r) for r in ranks) / n,
        ndcg10=sum(ndcg(r) for r in ranks) / n,
    )


@dataclass(frozen=True)
class Interval:
    """A figure's bootstrap interval: where it would fall on other question sets like this one."""

    low: float
    high: float


LEVEL = 0.9
DRAWS = 2000


def rank_intervals(
    ranks: Sequence[int | None], level: float = LEVEL, draws: int = DRAWS, seed: int = 0
) -> dict[str, Interval]:
    """Percentile bootstrap intervals (Efron & Tibshirani 1993, ch. 13) of hit@1/5/10 and
    MRR@10: the questions are drawn again with replacement `draws` times and each figure
    recomputed. With 70 questions one question is 0.014 and hit@1's interval about ±0.09,
    which is what a target missed or met by one question should be read against."""
    if not ranks:
        return {}
    per_question = {
        "hit1": [hit_at(r, 1) for r in ranks],
        "hit5": [hit_at(r, 5) for r in ranks],
        "hit10": [hit_at(r, 10) for r in ranks],
        "mrr10": [reciprocal_rank(r) for r in ranks],
    }
    drawn = np.random.default_rng(seed).integers(0, len(ranks), size=(draws, len(ranks)))
    return {
        name: _percentiles(np.array(values)[drawn].mean(axis=1), level)
        for name, values in per_question.items()
    }


def auroc_interval(
    positives: Sequence[float],
    negatives: Sequence[float],
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> Interval | None:
    """The same for AUROC, answerable and unanswerable questions drawn again apart so that
    every draw keeps both (a stratified bootstrap); None without one of each."""
    if not positives or not negatives:
        return None
    rng = np.random.default_rng(seed)
    wins, n_pos, n_neg = _wins(positives, negatives), len(positives), len(negatives)
    values = [
        wins[np.ix_(rng.integers(0, n_pos, n_pos), rng.integers(0, n_neg, n_neg))].mean()
        for _ in range(draws)
    ]
    return _percentiles(np.array(values), level)


def _percentiles(values: npt.NDArray[np.float64], level: float) -> Interval:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))
