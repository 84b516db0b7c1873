"""Which sentences of a passage answer the question, and which query words it shares.

Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.records import Highlight
from index.keyword import STOPWORDS, query_tokens, stem_words, tokenize

# A sentence sharing every query term gains this much over its cosine similarity.
TERM_BONUS = 0.15
# A second sentence is shown when it scores within this distance of the best one.
SECOND_WITHIN = 0.05
_WORD = re.compile(r"\w+")


def highlighted_text(text: str, highlights: Sequence[Highlight]) -> str:
    """The highlighted sentences of a passage in reading order, joined by an ellipsis; the
    whole text when none are highlighted."""
    spans = sorted(highlights, key=lambda h: h.start)
    return " … ".join(text[h.start : h.end] for h in spans) or text


def matched_terms(passage: str, question: str) -> list[str]:
    """Words of the passage (as written, first occurrence) whose stem is a query term."""
    wanted = set(query_tokens(question))
    written: dict[str, str] = {}
    for word in _WORD.findall(passage):
        written.setdefault(word.lower(), word)
    lowered = list(written)
    # One stemmer call for the whole passage (its text is already NFKC-normalised).
    kept = [w for w in lowered if w not in STOPWORDS]
    stems = stem_words(kept)
    return [written[w] for w, s in zip(kept, stems, strict=True) if s in wanted]


def best_sentences(
    passage: str,
    spans: Sequence[tuple[int, int]],
    similarities: Sequence[float],
    question: str,
) -> list[Highlight]:
    """The best sentence, and a runner-up when it is nearly as good, in reading order."""
    if not spans:
        return []
    wanted = set(query_tokens(question))
    scored = []
    for (start, end), similarity in zip(spans, similarities, strict=True):
        terms = set(tokenize(passage[start:end]))
        overlap = len(terms & wanted) / len(wanted) if wanted else 0.0
        scored.append(Highlight(start, end, float(similarity) + TERM_BONUS * overlap))
    ranked = sorted(scored, key=lambda h: -h.score)
    chosen = [ranked[0]]
    if len(ranked) > 1 and ranked[1].score >= ranked[0].score - SECOND_WITHIN:
        chosen.append(ranked[1])
    return sorted(chosen, key=lambda h: h.start)
