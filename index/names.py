"""Names of several words a question uses, and which of them the best passages never
mention. Pure functions.

A question the documents cannot answer often asks about something they do not cover by
its proper name ("the Kampala Ministerial Declaration", "the Recognised Seasonal Employer
scheme"), while the passages retrieved for it share its topic. Single unknown words are
caught against the keyword vocabulary (`keyword.name_words`); a name of several known
words ("Central Mediterranean", "Talent Partnerships") is only caught as a phrase. If the
documents held the name, keyword search would put a passage holding it near the top, so
the best few passages are enough to look in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from index.hints import is_region

_WORD = r"[A-Z][\w-]*"
# Capitalised words, joined by the small words inside names ("Programme of Action",
# "Trust Fund for Africa"). "and" separates names more often than it joins one.
_NAME = re.compile(rf"{_WORD}(?:\s+(?:of|on|for|the)?\s*{_WORD})+")
_FIRST_WORD = re.compile(r"^\W*\w+")
_OWNER = re.compile(r"\b[A-Z][\w-]*['’]s\b")  # "IOM's": an owner, not part of the name
_NUMBER = re.compile(r"\b\d[\w.-]*")  # years and numbers end a name
_TRAILING = re.compile(r"\s+(?:of|on|for|the)$")
_SPACE = re.compile(r"\s+")


def multiword_names(question: str) -> list[str]:
    """Runs of two or more capitalised words after the first word: "Kampala Ministerial
    Declaration on Migration". A region's name alone ("a South Asian country") describes
    where, it does not name what the documents must mention."""
    text = _FIRST_WORD.sub("", question)  # the first word is capitalised anyway
    text = _NUMBER.sub("|", _OWNER.sub("|", text))
    names = [_TRAILING.sub("", m.group(0)) for m in _NAME.finditer(text)]
    return [n for n in names if len(n.split()) >= 2 and not is_region(n)]


def absent_names(names: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The names that occur in none of the texts, compared without case and across line
    breaks."""
    haystack = " ".join(_flat(t) for t in texts)
    return [n for n in names if _flat(n) not in haystack]


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).lower()
