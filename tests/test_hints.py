"""Years and regions read from questions, countries found in passages, and their bonus."""

import pytest

from core.records import Metadata
from index.fusion import Fused, add_bonuses
from index.hints import (
    M49_REGIONS,
    REGION_BONUS,
    YEAR_BONUS,
    Bonus,
    Gazetteer,
    Hints,
    Place,
    default_gazetteer,
    document_years,
    hint_bonus,
    parse_places,
    read_hints,
)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return default_gazetteer()


def test_the_countries_table_covers_every_m49_subregion_once_per_name(
    gazetteer: Gazetteer,
) -> None:
    names = [p.name for p in gazetteer.places]
    assert len(names) == len(set(names)) >= 193  # the UN's member states and more
    used = {p.subregion for p in gazetteer.places}
    assert used == {s for subs in M49_REGIONS.values() for s in subs}


def test_a_malformed_countries_row_is_refused_with_its_row_number() -> None:
    with pytest.raises(ValueError, match="row 3"):
        parse_places("name\tsubregion\taliases\nSpain\tSouthern Europe\tSpanish\nAtlantis\tSea\t\n")


def test_countries_are_found_by_name_or_adjective_as_whole_words(gazetteer: Gazetteer) -> None:
    text = (
        "Migrants on Moroccan soil, 70 per cent of Salvadorans, Papua New Guinea, "
        "Guinea-Bissau, Côte d’Ivoire and Türkiye; the U.S. and the UAE."
    )
    assert gazetteer.countries_in(text) == {
        "Morocco",
        "El Salvador",
        "Papua New Guinea",  # not also "Guinea"
        "Guinea-Bissau",
        "Côte d'Ivoire",
        "Türkiye",
        "United States",
        "United Arab Emirates",
    }
    assert (
        gazetteer.countries_in("Spaniards, Nigeriaa, non-Spain, spain, a Latin American view")
        == set()
    )


def test_a_region_is_a_hint_only_where_it_stands_for_an_unnamed_country(
    gazetteer: Gazetteer,
) -> None:
    def regions(question: str) -> list[tuple[str, frozenset[str]]]:
        return [(r.phrase, r.countries) for r in read_hints(question, gazetteer).regions]

    [(phrase, countries)] = regions("Which Central American country opened transit centres?")
    assert phrase == "Central American" and "Honduras" in countries and "Spain" not in countries
    [(_, countries)] = regions("How did a flood-prone South Asian country adapt its clinics?")
    assert "Bangladesh" in countries and "China" not in countries  # not all of Asia
    [(_, countries)] = regions("Which governments in Latin America suspended evictions?")
    assert {"Colombia", "Haiti", "Mexico"} <= countries and "Canada" not in countries
    [(_, countries)] = regions("Which Andean country's representatives spoke on returnees?")
    assert "Ecuador" in countries and "Brazil" not in countries
    assert [
        p for p, _ in regions("Which Asian donor government funded work in African countries?")
    ] == [
        "Asian",
        "African",
    ]
    [(phrase, countries)] = regions("Which of Africa's countries hosts the most refugees?")
    assert phrase == "Africa's" and {"Uganda", "Morocco"} <= countries
    assert regions("What did the European Union propose on the African diaspora?") == []


def test_years_are_read_from_the_question_and_the_document(gazetteer: Gazetteer) -> None:
    assert read_hints("What did the 2023 dialogue say of 2030?", gazetteer).years == {2023, 2030}
    assert not read_hints("What did the dialogue say about 230 participants?", gazetteer)
    report = Metadata(
        title="Leveraging Migration for a Resilient Recovery",
        year=2022,
        event="Second session of the 2021 International Dialogue on Migration",
    )
    assert document_years(report) == {2021, 2022}
    assert document_years(Metadata(title="IOM input to the 2018 Forum")) == {2018}


def test_the_bonus_adds_the_year_and_shares_the_region_share(gazetteer: Gazetteer) -> None:
    hints = read_hints(
        "Which Asian donor government funded projects in African countries in 2021?", gazetteer
    )
    both = hint_bonus(hints, "Japan funded a project in Cameroon.", frozenset({2021}), gazetteer)
    assert both.value == pytest.approx(YEAR_BONUS + REGION_BONUS)
    assert both.reasons == ("document of 2021", "names Japan (Asian)", "names Cameroon (African)")
    one = hint_bonus(hints, "Japan funded a project.", frozenset({2019}), gazetteer)
    assert one.value == pytest.approx(REGION_BONUS / 2)
    assert hint_bonus(hints, "Nothing here.", frozenset(), gazetteer) == Bonus(0.0, ())
    assert hint_bonus(Hints(), "Japan, 2021", frozenset({2021}), gazetteer).value == 0


def test_a_small_gazetteer_resolves_aliases_to_their_country() -> None:
    g = Gazetteer([Place("Viet Nam", "South-eastern Asia", ("Vietnam", "Vietnamese"))])
    assert g.countries_in("Vietnamese workers") == {"Viet Nam"}
    assert g.covering(["South-eastern Asia"]) == {"Viet Nam"}


def test_bonuses_reorder_the_fused_list_and_say_why() -> None:
    fused = [
        Fused(row=1, fused=0.70, bm25_rank=1, bm25_score=9.0, dense_rank=2, dense_score=0.6),
        Fused(row=2, fused=0.65, bm25_rank=2, bm25_score=8.0, dense_rank=1, dense_score=0.7),
        Fused(row=3, fused=0.60, bm25_rank=None, bm25_score=None, dense_rank=3, dense_score=0.5),
    ]
    out = add_bonuses(fused, {2: Bonus(0.1, ("document of 2023",)), 3: Bonus(0.0, ())})
    assert [f.row for f in out] == [2, 1, 3]
    assert out[0].fused == pytest.approx(0.75) and out[0].bonus == pytest.approx(0.1)
    assert out[0].hints == ("document of 2023",)
    assert out[1] == fused[0] and out[2] == fused[2]  # no bonus, no change
    again = add_bonuses(out, {2: Bonus(-0.05, ("repeated in another document",))})
    assert again[0].bonus == pytest.approx(0.05) and again[0].fused == pytest.approx(0.70)
    assert again[0].hints == ("document of 2023", "repeated in another document")
