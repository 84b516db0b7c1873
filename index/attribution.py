"""The question as the cross-encoder reads it: without the clause that says where the
answer comes from. A pure function.

Researchers tell the service where to look ("…, according to IOM's 2018 input?", "As
quoted at IDM 2023, …"). The first stage uses that: every passage is indexed with its
document's title and year, and the year is a hint. The cross-encoder reads only a
passage's heading and sentences, which rarely repeat their own source, so for it those
words can only pull toward passages that happen to name a report.
"""

from __future__ import annotations

import re

_VERB = (
    r"(?:cited|described|quoted|stated|noted|reported|defined|mentioned|presented"
    r"|discussed|outlined|set out)"
)
_CLAUSE = rf"(?:according to|as {_VERB}(?:\s+(?:at|in|by|during))?|in the view of)"
_SOURCE = r"[^,?]+"  # up to the next comma or the question mark
_TRAILING = re.compile(rf"(?:,\s*|\s+){_CLAUSE}\s{_SOURCE}", re.IGNORECASE)
_LEADING = re.compile(rf"^{_CLAUSE}\s{_SOURCE},\s*|^in [A-Z][\w-]*['’]s view,\s*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
MIN_WORDS = 3  # what is left must still ask something


def without_attribution(question: str) -> str:
    """The question with "according to …" and "as cited at …" clauses taken out; the
    question unchanged when it has none, or when too little would be left."""
    stripped = _TRAILING.sub("", _LEADING.sub("", question.strip()))
    if stripped == question.strip() or len(_WORD.findall(stripped)) < MIN_WORDS:
        return question
    return stripped[0].upper() + stripped[1:]
