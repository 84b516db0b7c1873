"""Collapse near-identical passages (a report repeats its recommendations). Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

SHINGLE_WORDS = 5
# Passages sharing this share of their word 5-grams (Jaccard), or most of the
# smaller one's, say the same thing.
JACCARD = 0.6
CONTAINMENT = 0.7
# Containment only counts for passages of some length: a one-line passage ("International
# Organization for Migration (IOM)") is contained in hundreds of others.
MIN_SHINGLES = 8
_WORD = re.compile(r"\w+")


# The same top passages come back for many questions; their shingles need making once.
@lru_cache(maxsize=8192)
def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    common = len(a & b)
    smaller = min(len(a), len(b))
    return common / (len(a) + len(b) - common) >= JACCARD or (
        smaller >= MIN_SHINGLES and common / smaller >= CONTAINMENT
    )


def group(texts: Sequence[str], limit: int | None = None) -> list[list[int]]:
    """Indices grouped by near-duplication, each group led by its first (best) member.

    With `limit`, at most that many groups are formed; later texts only join them, which
    is all a ranked list of `limit` results needs.
    """
    groups: list[list[int]] = []
    leads: list[frozenset[str]] = []
    for i, text in enumerate(texts):
        s = shingles(text)
        for g, lead in zip(groups, leads, strict=True):
            if near_duplicate(s, lead):
                g.append(i)
                break
        else:
            if limit is None or len(groups) < limit:
                groups.append([i])
                leads.append(s)
    return groups


def across_documents(groups: Sequence[Sequence[int]], doc_ids: Sequence[str]) -> list[int]:
    """Members of the groups whose texts come from more than one document.

    A passage repeated nearly word for word in another report is the publisher's
    boilerplate (disclaimer, mission statement, series list) far more often than evidence.
    """
    return [i for g in groups if len({doc_ids[i] for i in g}) > 1 for i in g]
