"""Passage text -> BM25 keyword index (bm25s), saved beside the vectors."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

KEYWORD_DIR = "keyword"

# A short list: question words matter little, but numbers and acronyms matter a lot,
# so only true function words are dropped.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "also",
        "any",
    ]
)
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, accents and ligatures folded, stopwords removed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return [t for t in _TOKEN.findall(folded) if t not in STOPWORDS]


class KeywordIndex:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        # Okapi BM25 with Lucene's idf (Robertson & Zaragoza 2009; Lucene 'classic' variant).
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        retriever.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))

    def search(self, query: str, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Row ids and BM25 scores, best first; only rows that share a term with the query."""
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        size = int(self._retriever.scores["num_docs"])
        k = max(1, min(k, size))
        rows, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
