"""Each heading rule on the shape it recognises and on a near miss; then their order."""

import pytest

from ingest.heading_rules import (
    BOLD,
    HEADING_RULES,
    LineFacts,
    Outline,
    Verdict,
    agenda_session_title,
    annex_title,
    bold_heading,
    decide,
    heading_levels,
    line_facts,
    markdown_heading,
    numbered_list_item,
    numbered_list_title,
    numbered_section_title,
    questionnaire_item,
    time_slot_alone,
)

Lines = list[tuple[str, int | None]]


def facts(lines: Lines, at: int = 0) -> LineFacts:
    return line_facts(lines)[at]


def plain(*texts: str) -> Lines:
    return [(text, None) for text in texts]


IN_ANNEX = Outline(base=1, last_top=3)


def test_questionnaire_item_opens_a_top_level_part() -> None:
    line = facts(plain("Q3. How has COVID-19 affected migrants in your country?"))
    assert questionnaire_item(line, IN_ANNEX) == Verdict(1, Outline(base=1, last_top=3))
    long_question = "Q12. " + "Please describe the measures taken. " * 20
    assert questionnaire_item(facts(plain(long_question.strip())), Outline()) is not None


def test_questionnaire_item_needs_the_q_number_and_a_reasonable_length() -> None:
    for text in ("Q3 How has it changed?", "Question 3. How?", "Q3." + " x" * 400):
        assert questionnaire_item(facts(plain(text)), Outline()) is None
    marked = facts([("Q3. Already a markdown heading", 2)])
    assert questionnaire_item(marked, Outline()) is None


def test_annex_title_opens_a_top_level_part() -> None:
    for text in ("ANNEX 1: PROGRAMME", "Annex II. Participants", "APPENDIX", "Appendix A – Tables"):
        assert annex_title(facts(plain(text)), Outline(base=3)) == Verdict(1, Outline(base=1))


def test_annex_title_is_not_a_contents_entry_a_table_cell_or_a_sentence() -> None:
    for text in (
        "ANNEX 1: PROGRAMME.......... 42",
        "ANNEX 1 | Programme",
        "Annexes to this report follow.",
        "ANNEX 1: " + "long title " * 20,
    ):
        assert annex_title(facts(plain(text)), Outline()) is None


def test_agenda_session_title_opens_a_part_below_the_base() -> None:
    lines = plain(
        "Keynote speaker.", "PANEL 5: Building resilient cities", "Moderator: a Director."
    )
    assert agenda_session_title(facts(lines, 1), IN_ANNEX) == Verdict(2, IN_ANNEX)
    row = plain("15:00 – 16:30 New York Time | CLOSING REMARKS: Key actions")
    assert agenda_session_title(facts(row), Outline()) == Verdict(1, Outline())


def test_agenda_session_titles_in_a_run_are_an_overview_list() -> None:
    run = plain("The panels were:", "Panel 1: Data for action", "Panel 2: Diasporas")
    assert agenda_session_title(facts(run, 1), IN_ANNEX) is None
    assert agenda_session_title(facts(run, 2), IN_ANNEX) is None
    prose = plain("Panel 3 was cancelled: no speakers could travel.")
    assert agenda_session_title(facts(prose), IN_ANNEX) is None


def test_numbered_list_item_in_a_run_or_going_back_is_no_heading() -> None:
    run = plain("1. First item of a list", "2. Second item of a list")
    assert numbered_list_item(facts(run, 0), Outline()) == Verdict(None, Outline())
    went_back = facts(plain("2. Table row item"))
    assert numbered_list_item(went_back, Outline(last_top=3)) == Verdict(None, Outline(last_top=3))
    bold_in_run = [("1. First item", BOLD), ("2. Second item", BOLD)]
    assert numbered_list_item(facts(bold_in_run), Outline()) is not None


def test_numbered_list_item_leaves_spread_out_rising_or_marked_titles_alone() -> None:
    assert numbered_list_item(facts(plain("4. Findings")), Outline(last_top=3)) is None
    assert numbered_list_item(facts(plain("2.1 Method")), Outline(last_top=3)) is None
    marked_run = [("1. Scope", 2), ("2. Method", 2)]
    assert numbered_list_item(facts(marked_run), Outline()) is None


def test_numbered_section_title_is_as_deep_as_its_numbering_below_the_base() -> None:
    top = facts(plain("4. THEMATIC AREA"))
    assert numbered_section_title(top, Outline(base=1)) == Verdict(2, Outline(base=1, last_top=4))
    sub = facts(plain("4.3 Shared challenges"))
    assert numbered_section_title(sub, Outline(last_top=4)) == Verdict(2, Outline(last_top=4))
    bold = facts([("8. Effectively connect recovering with greening", BOLD)])
    assert numbered_section_title(bold, Outline()) == Verdict(1, Outline(last_top=8))


def test_numbered_section_title_needs_the_shape_of_a_title() -> None:
    for text in (
        "3. the sentence goes on in lower case",
        "3. Ends like a sentence.",
        "3. Overview.....\t13",
        "3. Overview | 13",
        "3. " + "Long " * 50,
        "Findings 3",
        "123. Too many digits",
    ):
        assert numbered_section_title(facts(plain(text)), Outline()) is None, text


def test_numbered_list_title_is_a_top_level_heading() -> None:
    series = plain(
        "International Dialogue on Migration Series",
        "1. 82nd Session of the Council, 2002",
        "2. Compendium of Organizations, 2002",
    )
    assert numbered_list_title(facts(series), Outline(base=2)) == Verdict(1, Outline(base=1))


def test_numbered_list_title_needs_a_title_and_a_plain_list_after_it() -> None:
    contents = plain("Table of Contents", "1. Overview.....\t13", "2. Findings.....\t20")
    assert numbered_list_title(facts(contents), Outline()) is None
    sentence = plain("The Member States agreed that", "1. First point", "2. Second point")
    assert numbered_list_title(facts(sentence), Outline()) is None
    one_item = plain("International Dialogue on Migration Series", "1. Only item")
    assert numbered_list_title(facts(one_item), Outline()) is None
    sub_items = plain("International Dialogue on Migration", "1.1 Council", "1.2 Compendium")
    assert numbered_list_title(facts(sub_items), Outline()) is None


def test_a_bold_time_slot_alone_is_no_heading() -> None:
    slot = facts([("10:00 – 11:30 New York Time", BOLD)])
    assert time_slot_alone(slot, IN_ANNEX) == Verdict(None, IN_ANNEX)


def test_a_time_slot_with_its_session_or_without_bold_is_left_to_other_rules() -> None:
    with_session = facts([("10:00 – 11:30 | PANEL 4: Engaging youth", BOLD)])
    assert time_slot_alone(with_session, Outline()) is None
    unmarked = facts(plain("10:00 – 11:30 New York Time"))
    assert time_slot_alone(unmarked, Outline()) is None


def test_bold_heading_is_a_sibling_of_the_last_unnumbered_heading() -> None:
    line = facts([("Key findings", BOLD)])
    assert bold_heading(line, Outline(base=2, last_top=1)) == Verdict(2, Outline(2, 1))
    assert bold_heading(line, Outline()) == Verdict(1, Outline(base=1))


def test_bold_heading_needs_bold_only_markup() -> None:
    assert bold_heading(facts(plain("Key findings")), Outline()) is None
    assert bold_heading(facts([("Key findings", 2)]), Outline()) is None


def test_markdown_heading_keeps_its_level_and_becomes_the_base() -> None:
    line = facts([("Report", 3)])
    assert markdown_heading(line, Outline(base=1, last_top=2)) == Verdict(3, Outline(3, 2))


def test_markdown_heading_needs_hash_markup() -> None:
    assert markdown_heading(facts(plain("Report")), Outline()) is None
    assert markdown_heading(facts([("Report", BOLD)]), Outline()) is None


def test_every_rule_says_which_shape_it_recognises() -> None:
    assert all(rule.__doc__ and len(rule.__doc__) > 40 for rule in HEADING_RULES)
    assert len({rule.__name__ for rule in HEADING_RULES}) == len(HEADING_RULES)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        # numbered before bold: a bold numbered line is as deep as its numbering
        (("2.1 Bold numbered title", BOLD), 2),
        # time slot before bold: a bold time slot is not made a heading
        (("10:00 – 11:30 New York Time", BOLD), None),
        # list items before titles: marked "#" numbered lines stay headings
        (("1. Marked", 3), 1),
    ],
)
def test_earlier_rules_win(line: tuple[str, int | None], level: int | None) -> None:
    assert decide(facts([line]), Outline()).level == level


def test_the_outline_carries_from_line_to_line() -> None:
    lines: Lines = [
        ("Report", 2),  # base 2
        ("1. Scope", None),  # 2 + 1, last top 1
        ("Body text.", None),
        ("1. Restarted list item", None),  # went back: body
        ("ANNEX 1: PROGRAMME", None),  # base 1
        ("PANEL 4: Engaging youth", None),  # below the annex
        ("Key findings", BOLD),  # sibling of the annex
    ]
    assert heading_levels(lines) == [2, 3, None, None, 1, 2, 1]
