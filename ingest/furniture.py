"""Running headers, running footers and page numbers, found by repetition. Pure functions.

Printed pages repeat a title, a chapter name, a copyright line and the page number at
their top or bottom. Left in, these lines split sentences at every page break and make
the same words match on every page. A line near the top (or bottom) of a page, among
its first (or last) three non-blank lines, is taken for furniture when the same line
sits near the top (or bottom) of other pages:

- on many pages: at least `min_share` of the pages with text, and at least `min_pages`
  (a title or footer on every page, odd and even headers alternating); or
- on at least two pages, when the page number itself starts or ends the line
  ("8 1.2. METRISCHE RÄUME", "GeoBase® 7", "THE SIEGE OF VICKSBURG. 49", a bare "12").

Lines are compared after NFKC, case folding and whitespace collapsing, with the page
number masked: a number counts as the page number when it equals the printed page label
or differs from the physical page number by the same offset on every page where the line
occurs (front matter shifts printed numbers). A line that occurs once is never furniture,
however much it looks like a header. When removal would empty more than half of the
pages, the repeated lines are the content (one line repeated on each page), and nothing
is removed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

from core.records import RawPage

ZONE_LINES = 3  # non-blank lines at each end of a page that may be furniture
MIN_SHARE = 0.3
MIN_PAGES = 3
MAX_EDGE_OFFSET = 500  # printed minus physical page number, for the two-page rule
MAX_FURNITURE_CHARS = 200

_NUMBER = re.compile(r"\d{1,6}")
_DECORATION = " -–—‒―|[](){}<>•·*~_"

Key = tuple[str, str, str]  # (zone, masked line, how the page number was matched)


def _normal(line: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", line).casefold().split())


def _at_edge(masked: str) -> bool:
    core = masked.strip(_DECORATION)
    return core.startswith("#") or core.endswith("#")


def _keys(line: str, zone: str, number: int, label: str | None) -> list[tuple[Key, bool]]:
    """Ways this line may repeat on other pages, each with whether the two-page rule applies."""
    text = _normal(line)
    if not text or len(text) > MAX_FURNITURE_CHARS:
        return []
    keys: list[tuple[Key, bool]] = [((zone, text, ""), False)]
    folded_label = _normal(label) if label else ""
    for match in _NUMBER.finditer(text):
        masked = text[: match.start()] + "#" + text[match.end() :]
        offset = int(match.group()) - number
        edge = _at_edge(masked)
        keys.append(((zone, masked, f"{offset:+d}"), edge and abs(offset) <= MAX_EDGE_OFFSET))
        if match.group() == folded_label:
            keys.append(((zone, masked, "label"), edge))
    if folded_label and not folded_label.isdigit():  # roman numerals, "A-3"
        for match in re.finditer(rf"(?<!\w){re.escape(folded_label)}(?!\w)", text):
            masked = text[: match.start()] + "#" + text[match.end() :]
            keys.append(((zone, masked, "label"), _at_edge(masked)))
    return keys


def _zones(lines: Sequence[str], zone_lines: int) -> list[tuple[int, str]]:
    """(line index, "top" | "bottom") for the lines near either end of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return [(i, "top") for i in filled[:zone_lines]] + [(i, "bottom") for i in filled[-zone_lines:]]


def furniture_lines(
    pages: Sequence[RawPage],
    *,
    zone_lines: int = ZONE_LINES,
    min_share: float = MIN_SHARE,
    min_pages: int = MIN_PAGES,
) -> dict[int, set[int]]:
    """Page index -> indices of its lines (text split at newlines) that are furniture."""
    split = [page.text.split("\n") for page in pages]
    with_text = [i for i, page in enumerate(pages) if page.text.strip() and page.number]
    if len(with_text) < 2:
        return {}
    candidates: dict[int, list[tuple[int, list[tuple[Key, bool]]]]] = {}
    seen_on: dict[Key, set[int]] = defaultdict(set)
    for p in with_text:
        page = pages[p]
        number = page.number or 0
        found = [
            (i, _keys(split[p][i], zone, number, page.label))
            for i, zone in _zones(split[p], zone_lines)
        ]
        candidates[p] = found
        for _, keys in found:
            for key, _edge in keys:
                seen_on[key].add(p)
    frequent = max(min_pages, math.ceil(min_share * len(with_text)))
    marked: dict[int, set[int]] = {}
    for p, found in candidates.items():
        for i, keys in found:
            if any(
                len(seen_on[key]) >= frequent or (edge and len(seen_on[key]) >= 2)
                for key, edge in keys
            ):
                marked.setdefault(p, set()).add(i)
    return marked


def strip_furniture(
    pages: Sequence[RawPage],
    *,
    zone_lines: int = ZONE_LINES,
    min_share: float = MIN_SHARE,
    min_pages: int = MIN_PAGES,
) -> list[RawPage]:
    """The pages without their running headers, footers and page numbers."""
    marked = furniture_lines(pages, zone_lines=zone_lines, min_share=min_share, min_pages=min_pages)
    if not marked:
        return list(pages)
    out: list[RawPage] = []
    emptied = 0
    for p, page in enumerate(pages):
        drop = marked.get(p)
        if not drop:
            out.append(page)
            continue
        kept = [line for i, line in enumerate(page.text.split("\n")) if i not in drop]
        text = "\n".join(kept)
        emptied += not text.strip()
        out.append(RawPage(page.number, page.label, text))
    with_text = sum(1 for page in pages if page.text.strip())
    if emptied * 2 > with_text:
        return list(pages)
    return out
