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
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


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
