"""Passage text -> BM25 keyword index (bm25s), saved beside the vectors."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

from index import keyword_stream

KEYWORD_DIR = "keyword"

# bm25s sets its own logger to DEBUG when imported and then reports every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# Function words only: numbers, names and acronyms carry most of a question's signal.
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
# Words that frame a question rather than name its subject ("according to the report,
# what was said ..."); dropped from queries only, since passages use them as content.
QUESTION_FRAME = frozenset(
    [
        "according",
        "say",
        "said",
        "says",
        "mention",
        "mentioned",
        "mentions",
        "describe",
        "described",
        "cite",
        "cited",
        "suggest",
        "suggested",
        "roughly",
        "approximately",
        "many",
        "much",
        "kind",
        "sort",
    ]
)
_TOKEN = re.compile(r"\w+")
K1, B = 1.2, 0.75
# From this many passages queries are scored by keyword_stream.scores, not bm25s.
LARGE_CORPUS = 50_000
EMPTY = "\u2205"  # the one token of a passage with no words, so every row is indexed


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens with accents and ligatures folded, stopwords removed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return [t for t in _TOKEN.findall(folded) if t not in STOPWORDS]


def stem_words(words_: Sequence[str]) -> list[str]:
    return list(_stemmer().stemWords(list(words_)))


def tokenize(text: str) -> list[str]:
    """Snowball-stemmed words ("participants", "participated" -> "particip")."""
    return list(_tokens(text))


# Highlighting and confidence tokenize the same top passages for question after question.
@lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_stemmer().stemWords(words(text)))


def query_tokens(text: str) -> list[str]:
    return list(_query_tokens(text))


@lru_cache(maxsize=1024)
def _query_tokens(text: str) -> tuple[str, ...]:
    return tuple(_stemmer().stemWords([w for w in words(text) if w not in QUESTION_FRAME]))


def top_k(
    scores: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The k best positive scores, best first; ties keep row order."""
    k = max(0, min(k, len(scores)))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
    # A partition cuts ties arbitrarily at the boundary: take every row tied with the k-th.
    threshold = scores[candidates].min()
    candidates = np.flatnonzero(scores >= threshold)
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    order = order[scores[order] > 0]
    return order.astype(np.int64), scores[order].astype(np.float32)


_NAME = re.compile(r"[\w-]+")


def name_words(question: str) -> list[str]:
    """Words that name something: capitalised after the first word, or holding a digit.

    Questions the documents cannot answer tend to name what the documents never mention
    ("the Rabat Process", "H-2A visas"); paraphrased questions avoid names.
    """
    found = _NAME.findall(question)
    return [w for w in found[1:] if w[0].isupper() or any(c.isdigit() for c in w)]


class KeywordIndex:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict
        self.size = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        # Okapi BM25, Lucene's variant of idf (Robertson & Zaragoza 2009, "The Probabilistic
        # Relevance Framework: BM25 and Beyond"; Kamphuis et al. 2020 for the variants).
        retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        retriever.index([tokenize(t) or [EMPTY] for t in texts], show_progress=False)
        return cls(retriever)

    @classmethod
    def build_streaming(cls, texts: Iterable[str]) -> KeywordIndex:
        """The same scores as `build`, from texts read one at a time (large corpora)."""
        tokens = (tokenize(t) or [EMPTY] for t in texts)
        return cls(keyword_stream.build(tokens, k1=K1, b=B))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0))

    def search(
        self, query: str, k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Row ids and BM25 scores, best first; only rows sharing a term with the query.

        `allowed` (one flag per row) restricts the search to a subset of passages.
        """
        tokens = [t for t in query_tokens(query) if t in self._vocab]
        if not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = [self._vocab[t] for t in tokens]
        if self.size >= LARGE_CORPUS:
            scores = keyword_stream.scores(self._retriever, ids, allowed)
        else:
            # Scores straight from the sparse matrix: bm25s.retrieve starts a thread pool
            # and a progress bar on every call, which cost more than the scoring itself.
            mask = None if allowed is None else allowed.astype(np.float32)
            scores = self._retriever.get_scores_from_ids(ids, weight_mask=mask)
        return top_k(np.asarray(scores, dtype=np.float32), k)

    def knows(self, token: str) -> bool:
        return token in self._vocab

    @property
    def max_idf(self) -> float:
        return float(np.log1p(self.size / 0.5))

    def idf(self, tokens: Sequence[str]) -> list[float]:
        """Robertson–Spärck Jones idf, log(1 + N / (df + 0.5)); unseen terms get the most."""
        indptr = self._retriever.scores["indptr"]
        out = []
        for token in tokens:
            position = self._vocab.get(token)
            df = 0 if position is None else int(indptr[position + 1] - indptr[position])
            out.append(float(np.log1p(self.size / (df + 0.5))))
        return out
