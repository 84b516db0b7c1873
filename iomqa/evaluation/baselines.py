"""Reference retrievers over fixed 200-word windows, printed beside the system."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.fusion import reciprocal_rank_fusion
from index.keyword import KeywordIndex
from ingest.vectors import Embedder
from iomqa.evaluation.harness import Answer

WINDOW_WORDS = 200
_WORD = re.compile(r"\S+")


def windows(text: str, size: int = WINDOW_WORDS) -> list[str]:
    """Consecutive, non-overlapping windows of `size` whitespace-separated words."""
    spans = [m.span() for m in _WORD.finditer(text)]
    return [
        text[spans[i][0] : spans[min(i + size, len(spans)) - 1][1]]
        for i in range(0, len(spans), size)
    ]


@dataclass
class WindowBaseline:
    """BM25, dense or their reciprocal-rank fusion over the same windows."""

    name: str
    mode: str  # "bm25" | "dense" | "hybrid"
    texts: list[str]
    keyword: KeywordIndex
    vectors: np.ndarray
    embedder: Embedder

    @classmethod
    def build_all(cls, documents: Sequence[str], embedder: Embedder) -> list[WindowBaseline]:
        texts = [w for doc in documents for w in windows(doc)]
        keyword = KeywordIndex.build(texts)
        vectors = embedder.encode(texts)
        return [
            cls(
                f"{label} over {WINDOW_WORDS}-word windows", mode, texts, keyword, vectors, embedder
            )
            for label, mode in (("BM25", "bm25"), ("dense", "dense"), ("hybrid RRF", "hybrid"))
        ]

    def ask(self, question: str, k: int) -> Answer:
        started = time.perf_counter()
        bm25: list[tuple[int, float]] = []
        dense: list[tuple[int, float]] = []
        if self.mode in ("bm25", "hybrid"):
            rows, scores = self.keyword.search(question, 100)
            bm25 = [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]
        if self.mode in ("dense", "hybrid"):
            sims = self.vectors @ self.embedder.encode([question])[0]
            order = np.argsort(-sims)[:100]
            dense = [(int(r), float(sims[r])) for r in order]
        if self.mode == "bm25":
            ranked, confidence = bm25, bm25[0][1] if bm25 else 0.0
        elif self.mode == "dense":
            ranked, confidence = dense, dense[0][1]
        else:
            fused = reciprocal_rank_fusion(bm25, dense)
            ranked = [(f.row, f.fused) for f in fused]
            confidence = fused[0].fused if fused else 0.0
        took = (time.perf_counter() - started) * 1000
        return Answer([self.texts[r] for r, _ in ranked[:k]], confidence, took)
