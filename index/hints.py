"""What a question says about where and when its answer lies. Pure functions over a
table of countries read once.

Researchers name a report by its year ("the 2023 dialogue", "IOM's 2018 input") and, when
they paraphrase, replace a country by its region ("a Central American country" for
Honduras). Neither helps BM25 or the embedding: the year is one token among many, and no
vector puts "Central American" next to "Honduras" firmly enough. So the searcher reads
these hints from the question and adds a small bonus to the candidates that satisfy them:
passages of a document from a year the question names, and passages naming a country of
the region the question asks about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.records import Metadata

COUNTRIES_FILE = Path(__file__).with_name("countries.tsv")
# Added to the fused score (cosine-like, about 0.3-0.8 for good candidates) of a passage
# that satisfies the question's hints; chosen on the development questions (README,
# "Retrieval quality").
YEAR_BONUS = 0.08
REGION_BONUS = 0.15

YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# The first word of a country's name: "Côte", "U" of "U.S.", "Guinea" of "Guinea-Bissau".
_CAPITALISED = re.compile(r"[A-Z][^\W_]*")

# UN M49 regions (United Nations Statistics Division, "Standard country or area codes
# for statistical use") and sub-regions.
M49_REGIONS: dict[str, tuple[str, ...]] = {
    "Africa": (
        "Northern Africa",
        "Eastern Africa",
        "Middle Africa",
        "Southern Africa",
        "Western Africa",
    ),
    "Americas": ("Caribbean", "Central America", "South America", "Northern America"),
    "Asia": ("Central Asia", "Eastern Asia", "South-eastern Asia", "Southern Asia", "Western Asia"),
    "Europe": ("Eastern Europe", "Northern Europe", "Southern Europe", "Western Europe"),
    "Oceania": ("Australia and New Zealand", "Melanesia", "Micronesia", "Polynesia"),
}

# How questions name a region -> the M49 sub-regions (or, for groupings M49 does not
# define, the countries) it covers. More specific phrases come first: the first match wins.
_R = r"(?:n|ns|'s)?"  # "Africa", "African", "Africans", "Africa's"
REGION_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (rf"north(?:ern)?\s+africa{_R}", ("Northern Africa",)),
    (rf"west(?:ern)?\s+africa{_R}", ("Western Africa",)),
    (rf"east(?:ern)?\s+africa{_R}", ("Eastern Africa",)),
    (rf"southern\s+africa{_R}", ("Southern Africa",)),
    (rf"(?:central|middle)\s+africa{_R}", ("Middle Africa",)),
    (
        rf"sub-?\s?saharan(?:\s+africa{_R})?",
        ("Eastern Africa", "Middle Africa", "Southern Africa", "Western Africa"),
    ),
    (rf"africa{_R}", M49_REGIONS["Africa"]),
    (rf"latin\s+america{_R}", ("Caribbean", "Central America", "South America")),
    (rf"central\s+america{_R}", ("Central America",)),
    (rf"south\s+america{_R}", ("South America",)),
    (rf"north\s+america{_R}", ("Northern America",)),
    (r"caribbean", ("Caribbean",)),
    (r"andean", ("Bolivia", "Chile", "Colombia", "Ecuador", "Peru", "Venezuela")),
    (rf"south[-\s]?east(?:ern)?\s+asia{_R}", ("South-eastern Asia",)),
    (rf"south(?:ern)?\s+asia{_R}", ("Southern Asia",)),
    (rf"east(?:ern)?\s+asia{_R}", ("Eastern Asia",)),
    (rf"central\s+asia{_R}", ("Central Asia",)),
    (rf"west(?:ern)?\s+asia{_R}", ("Western Asia",)),
    (r"middle[-\s]east(?:ern)?", ("Western Asia", "Egypt", "Iran")),
    (
        r"gulf",
        ("Bahrain", "Kuwait", "Oman", "Qatar", "Saudi Arabia", "United Arab Emirates"),
    ),
    (rf"asia{_R}", M49_REGIONS["Asia"]),
    (r"east(?:ern)?\s+europe(?:an|ans)?", ("Eastern Europe",)),
    (r"north(?:ern)?\s+europe(?:an|ans)?", ("Northern Europe",)),
    (r"south(?:ern)?\s+europe(?:an|ans)?", ("Southern Europe",)),
    (r"west(?:ern)?\s+europe(?:an|ans)?", ("Western Europe",)),
    (r"nordic|scandinavian", ("Denmark", "Finland", "Iceland", "Norway", "Sweden")),
    (r"europe(?:an|ans|'s)?", M49_REGIONS["Europe"]),
    (r"pacific(?:\s+island)?|oceania", M49_REGIONS["Oceania"]),
)
# The region must qualify a country the question leaves unnamed ("which European
# government", "a flood-prone South Asian country", "countries in Latin America"); a
# region on its own ("the European Union", "African diaspora") is no hint.
_ENTITY = r"(?:country|countries|government|governments|state|states|nation|nations)"
_PHRASES = "|".join(f"(?:{p})" for p, _ in REGION_PHRASES)
_QUALIFIED = re.compile(
    rf"\b(?P<before>{_PHRASES})(?:\s+[\w-]+){{0,2}}?\s+{_ENTITY}\b"
    rf"|\b{_ENTITY}\s+(?:in|of|from)\s+(?:the\s+)?(?P<after>{_PHRASES})\b",
    re.IGNORECASE,
)
_COMPILED = tuple((re.compile(rf"(?:{p})\Z", re.IGNORECASE), c) for p, c in REGION_PHRASES)


def is_region(phrase: str) -> bool:
    """Whether the phrase is only the name of a region ("South Asian", "Latin America")."""
    return any(pattern.match(phrase) for pattern, _ in _COMPILED)


@dataclass(frozen=True)
class Place:
    """A country or area: its name, its M49 sub-region and the other names it goes by."""

    name: str
    subregion: str
    aliases: tuple[str, ...] = ()


def _joined(char: str) -> bool:
    return char.isalnum() or char == "-"


class Gazetteer:
    """Finds the countries a text names, by name or adjective, case-sensitively."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.places = tuple(places)
        self._by_name: dict[str, Place] = {}
        for place in self.places:
            for name in (place.name, *place.aliases):
                self._by_name.setdefault(name, place)
        # Names by their first word, longest first, so "Papua New Guinea" is not read as
        # "Guinea". Scanning capitalised words and looking names up is about eight times
        # faster than one regular expression of every name.
        self._by_first: dict[str, list[str]] = {}
        for name in sorted(self._by_name, key=len, reverse=True):
            first = _CAPITALISED.match(name)
            if first is None:
                raise ValueError(f"a country's name must start with a capital: {name!r}")
            self._by_first.setdefault(first.group(0), []).append(name)

    def countries_in(self, text: str) -> set[str]:
        found: set[str] = set()
        matched_to = 0  # words inside a name already found ("Guinea" of "Papua New Guinea")
        for word in _CAPITALISED.finditer(text):
            start = word.start()
            if start < matched_to or (start and _joined(text[start - 1])):
                continue
            for name in self._by_first.get(word.group(0), ()):
                end = start + len(name)
                if text.startswith(name, start) and (end == len(text) or not _joined(text[end])):
                    found.add(self._by_name[name].name)
                    matched_to = end
                    break
        return found

    def covering(self, selectors: Iterable[str]) -> frozenset[str]:
        """Countries of the given sub-regions, or the named countries themselves."""
        wanted = set(selectors)
        return frozenset(p.name for p in self.places if p.subregion in wanted) | frozenset(
            self._by_name[s].name for s in wanted if s in self._by_name
        )


def parse_places(text: str) -> list[Place]:
    """Rows of `name<TAB>subregion<TAB>alias|alias…` after a header; '#' lines are notes."""
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    places = []
    known = {s for subs in M49_REGIONS.values() for s in subs}
    for number, line in enumerate(rows[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in known:
            raise ValueError(
                f"countries table row {number}: expected name, M49 sub-region, aliases"
            )
        aliases = tuple(a for a in fields[2].split("|") if a)
        places.append(Place(fields[0], fields[1], aliases))
    return places


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer(parse_places(COUNTRIES_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class AskedRegion:
    phrase: str  # as the question writes it: "Central American"
    countries: frozenset[str]


@dataclass(frozen=True)
class Hints:
    years: frozenset[int] = frozenset()
    regions: tuple[AskedRegion, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.years or self.regions)


def read_hints(question: str, gazetteer: Gazetteer) -> Hints:
    regions = []
    for match in _QUALIFIED.finditer(question):
        phrase = match.group("before") or match.group("after")
        for pattern, selectors in _COMPILED:
            if pattern.match(phrase):
                regions.append(AskedRegion(phrase, gazetteer.covering(selectors)))
                break
    return Hints(
        years=frozenset(int(y) for y in YEAR.findall(question)),
        regions=tuple(regions),
    )


def document_years(metadata: Metadata) -> frozenset[int]:
    """The years a document can be named by: its own and its event's ("the 2021 dialogue"
    for a report published in 2022)."""
    years = {int(y) for y in YEAR.findall(f"{metadata.title} {metadata.event or ''}")}
    if metadata.year is not None:
        years.add(metadata.year)
    return frozenset(years)


@dataclass(frozen=True)
class Bonus:
    value: float
    reasons: tuple[str, ...]


def hint_bonus(hints: Hints, text: str, doc_years: frozenset[int], gazetteer: Gazetteer) -> Bonus:
    """YEAR_BONUS when the passage's document is from a year the question names, plus
    REGION_BONUS shared among the regions asked about, for each one the passage names a
    country of."""
    value = 0.0
    reasons = []
    years = sorted(hints.years & doc_years)
    if years:
        value += YEAR_BONUS
        reasons.append("document of " + ", ".join(map(str, years)))
    if hints.regions:
        named = gazetteer.countries_in(text)
        for region in hints.regions:
            found = sorted(named & region.countries)
            if found:
                value += REGION_BONUS / len(hints.regions)
                reasons.append(f"names {', '.join(found)} ({region.phrase})")
    return Bonus(value, tuple(reasons))
