"""The question as the cross-encoder reads it: without the words that say where the
answer comes from. A pure function.

Researchers tell the service where to look ("…, according to IOM's 2018 input?", "As
quoted at IDM 2023, …", "the 2021 IDM recommendations"). The first stage uses that: every
passage is indexed with its document's title and year, and the year is a hint. The
cross-encoder reads only a passage's heading and sentences, which rarely repeat their own
source, so for it those words can only pull toward passages that happen to name a report.
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
# A year that dates a report or an event rather than what the question asks about: "the
# 2023 dialogue", "its 2018 HLPF input", "the 2021 IDM recommendations", "IDM 2023". A year
# on its own ("remittances in 2021") is what the passage itself says, and stays.
_SOURCE_NOUN = (
    r"(?:dialogue|IDM|International Dialogue on Migration|workshop|report|input|submission"
    r"|summary|recommendations|conclusions|questionnaire|session|panel)"
)
_YEAR_BEFORE_SOURCE = re.compile(rf"\b(?:19|20)\d\d\s+(?=(?:[A-Z]{{2,}}\s+)?{_SOURCE_NOUN}\b)")
_YEAR_AFTER_IDM = re.compile(r"\b(IDM)\s+(?:19|20)\d\d\b")
_WORD = re.compile(r"\w+")
MIN_WORDS = 3  # what is left must still ask something


def without_attribution(question: str) -> str:
    """The question with "according to …" and "as cited at …" clauses and the years that
    date its source taken out; the question unchanged when it has none, or when too little
    would be left."""
    stripped = _TRAILING.sub("", _LEADING.sub("", question.strip()))
    stripped = _YEAR_AFTER_IDM.sub(r"\1", _YEAR_BEFORE_SOURCE.sub("", stripped))
    if stripped == question.strip() or len(_WORD.findall(stripped)) < MIN_WORDS:
        return question
    return stripped[0].upper() + stripped[1:]
