"""Whether the passage a question leads to holds the kind of fact it asks for. Pure
functions.

A near-miss question asks about a topic the documents discuss for a fact they do not give:
"How many health assessments did IOM carry out in 2021?" where the report gives 2022's,
"How much did the bonds raise?" where it only says who bought them. Retrieval finds the
passage on the topic and is sure of it, so its own scores cannot tell. Two signs can:
a number the question names (a year, an article, a count) that the leading passage never
mentions, and a question asking for a number or a date whose leading passage's
highlighted sentences hold none besides the question's own.
"""

from __future__ import annotations

import re

from index.hints import YEAR

# Digits with their thousands separators and decimal points: "14,000", "10.7.2", "2021".
_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?")
_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much)|by how much|what (?:share|proportion|percentage|per ?cent|number"
    r"|amount|sum|cost|fraction|total))\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"\b(?:when|(?:what|which|in what|in which) (?:year|date|month)|on what dates?)\b",
    re.IGNORECASE,
)
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December)\b"
)


def numbers(text: str) -> set[str]:
    """The numbers a text writes, compared without thousands separators or a final point."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def absent_numbers(question: str, passage: str) -> set[str]:
    """The numbers the question names that the passage never writes."""
    return numbers(question) - numbers(passage)


def dates(text: str) -> set[str]:
    """The years and month names a text writes."""
    return set(YEAR.findall(text)) | set(_MONTH.findall(text))


def answer_absent(question: str, highlights: str) -> bool:
    """Whether the question asks for a date or a number and the highlighted sentences
    write none besides those the question itself names."""
    if _ASKS_DATE.search(question):
        return not dates(highlights) - dates(question)
    if _ASKS_NUMBER.search(question):
        return not numbers(highlights) - numbers(question)
    return False
