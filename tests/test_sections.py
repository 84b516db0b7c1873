from core.records import RawPage
from ingest.sections import assemble, page_lines, section_path


def headings(text: str) -> list[tuple[int, str]]:
    _, _, found = assemble([RawPage(None, None, text)], markdown=True)
    return [(h.level, h.title) for h in found]


def test_markdown_bold_and_numbered_headings() -> None:
    text = (
        "# Report\n\nIntro text.\n\n**Key findings**\n\nBody.\n\n"
        "4. THEMATIC AREA\n\nBody.\n\n4.3 Shared challenges\n\nBody."
    )
    assert headings(text) == [
        (1, "Report"),
        (1, "Key findings"),
        (2, "4. THEMATIC AREA"),
        (3, "4.3 Shared challenges"),
    ]


def test_numbered_lists_and_tables_of_contents_are_not_headings() -> None:
    text = (
        "1. Overview.....\t13\n2. Findings.....\t20\n\n"
        "1. First item of a list\n2. Second item of a list\n3. Third item\n\n"
        "Normal body text."
    )
    assert headings(text) == []


def test_numbers_that_go_back_are_not_headings() -> None:
    text = "1. Start\n\nBody.\n\n3. Next\n\nBody.\n\n2. Table row item\n\nBody."
    assert [t for _, t in headings(text)] == ["1. Start", "3. Next"]


def test_questionnaire_items_and_annexes_are_top_level() -> None:
    text = "Q1. What changed?\n\nAnswer.\n\nANNEX 1: PARTICIPATION\n\nDetails."
    assert headings(text) == [(1, "Q1. What changed?"), (1, "ANNEX 1: PARTICIPATION")]


def test_agenda_sessions_open_parts_but_an_overview_list_of_them_does_not() -> None:
    text = (
        "ANNEX 1: PROGRAMME\n\n"
        "The panels were:\n\nPanel 1: Data for action\n\nPanel 2: Diasporas\n\n"
        "Details of each follow.\n\n"
        "11:30 – 13:00 New York Time\tPANEL 1: Data for action\n\n"
        "Keynote speaker: a Minister.\n\n"
        "PANEL 2: Diasporas as development agents\n\nModerator: a Director.\n\n"
        "Panel 3 was cancelled: no speakers could travel.\n"
    )
    assert headings(text) == [
        (1, "ANNEX 1: PROGRAMME"),
        (2, "11:30 – 13:00 New York Time | PANEL 1: Data for action"),
        (2, "PANEL 2: Diasporas as development agents"),
    ]


def test_a_bold_time_slot_is_no_heading_and_a_closing_session_row_is() -> None:
    text = (
        "ANNEX 1: PROGRAMME\n\n**10:00 – 11:30 New York Time**\n\n"
        "PANEL 4: Engaging youth\n\nModerator: a Director.\n\n"
        "15:00 – 16:30 New York Time\tCLOSING REMARKS: Key actions\n\nSpeakers: two."
    )
    assert headings(text) == [
        (1, "ANNEX 1: PROGRAMME"),
        (2, "PANEL 4: Engaging youth"),
        (2, "15:00 – 16:30 New York Time | CLOSING REMARKS: Key actions"),
    ]


def test_the_title_of_a_numbered_list_is_a_heading_but_not_a_contents_title() -> None:
    series = (
        "Closing words of the report.\n\nInternational Dialogue on Migration Series\n"
        "1. 82nd Session of the Council, 2002\n2. Compendium of Organizations, 2002\n"
        "3. Health and Migration, 2005\n"
    )
    assert headings(series) == [(1, "International Dialogue on Migration Series")]
    contents = "Table of Contents\n1. Overview.....\t13\n2. Findings.....\t20\n"
    assert headings(contents) == []
    prose = "The Member States agreed\n1. First point of a list\n2. Second point\n"
    assert headings(prose) == []


def test_bold_heading_over_several_lines_is_one_heading() -> None:
    assert headings("**8. Effectively connect\nrecovering with\ngreening**\n\nBody.") == [
        (1, "8. Effectively connect recovering with greening")
    ]


def test_section_path_follows_nesting() -> None:
    text = "# A\n\n## B\n\nbody b\n\n## C\n\nbody c"
    canonical, _, found = assemble([RawPage(None, None, text)], markdown=True)
    assert section_path(found, canonical.index("body b")) == ("A", "B")
    assert section_path(found, canonical.index("body c")) == ("A", "C")
    assert section_path(found, 0) == ("A",)


def test_page_spans_point_at_page_text_and_empty_pages_are_skipped() -> None:
    pages = [RawPage(1, "i", "First page."), RawPage(2, "ii", "   \n"), RawPage(3, "1", "Third.")]
    text, spans, _ = assemble(pages, markdown=False)
    assert [(s.number, s.label) for s in spans] == [(1, "i"), (3, "1")]
    assert [text[s.char_start : s.char_end] for s in spans] == ["First page.", "Third."]


def test_blank_lines_are_paragraph_breaks_and_spaces_collapse() -> None:
    lines = page_lines("a  b\n\n\n\nc\nd", markdown=True)
    assert [(x.text, x.blank_before) for x in lines] == [("a b", False), ("c", True), ("d", False)]
