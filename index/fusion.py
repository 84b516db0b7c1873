"""Rank fusion of keyword and dense result lists. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RRF_K = 60


@dataclass(frozen=True)
class Fused:
    row: int
    fused: float
    bm25_rank: int | None
    bm25_score: float | None
    dense_rank: int | None
    dense_score: float | None


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
    found: dict[int, dict[str, float | int]] = {}
    for name, results, weight in (("bm25", bm25, bm25_weight), ("dense", dense, dense_weight)):
        for rank, (row, score) in enumerate(results, start=1):
            entry = found.setdefault(row, {"fused": 0.0})
            entry[f"{name}_rank"] = rank
            entry[f"{name}_score"] = score
            entry["fused"] = float(entry["fused"]) + weight / (k + rank)
    fused = [
        Fused(
            row=row,
            fused=float(e["fused"]),
            bm25_rank=int(e["bm25_rank"]) if "bm25_rank" in e else None,
            bm25_score=float(e["bm25_score"]) if "bm25_score" in e else None,
            dense_rank=int(e["dense_rank"]) if "dense_rank" in e else None,
            dense_score=float(e["dense_score"]) if "dense_score" in e else None,
        )
        for row, e in found.items()
    ]
    fused.sort(key=lambda f: (-f.fused, f.dense_rank or 1 << 30, f.row))
    return fused
