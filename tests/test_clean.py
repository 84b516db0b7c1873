from ingest.clean import (
    collapse_spaces,
    dehyphenate,
    html_to_lines,
    normalize_unicode,
    strip_markdown,
    table_row_to_text,
)


def test_nfkc_folds_ligatures_and_odd_spaces() -> None:
    assert normalize_unicode("Auﬂage ﬁnal\u00a0text") == "Auflage final text"


def test_footnote_superscripts_do_not_fuse_with_numbers() -> None:
    text = normalize_unicode("169 Member States¹ and United 24,³⁰ which")
    assert text == "169 Member States¹ and United 24,³⁰ which"


def test_soft_hyphens_and_zero_width_characters_vanish() -> None:
    assert normalize_unicode("migra\u00adtion\u200b data") == "migration data"


def test_end_of_line_hyphenation_is_joined_only_before_lowercase() -> None:
    assert dehyphenate("migra-\ntion policy") == "migration policy"
    assert dehyphenate("COVID-\n19") == "COVID-\n19"
    assert dehyphenate("South-\nSouth") == "South-\nSouth"


def test_html_paragraphs_and_bullets_become_lines() -> None:
    line = "<p>Moderator: A. Pope</p> <p>Speakers:</p> <ul style='x'> • One, IOM • Two, WHO</ul>"
    lines = [collapse_spaces(x) for x in html_to_lines(line)]
    expected = ["Moderator: A. Pope", "Speakers:", "• One, IOM", "• Two, WHO"]
    assert [x for x in lines if x] == expected


def test_plain_text_with_ampersand_is_untouched() -> None:
    assert html_to_lines("Q&A session") == ["Q&A session"]


def test_table_rows_join_cells() -> None:
    assert table_row_to_text("Name\tTitle\t\tOrg") == "Name | Title | Org"


def test_markdown_markup_is_removed() -> None:
    assert strip_markdown("## **Summary of conclusions**") == "Summary of conclusions"
    assert strip_markdown("see [the licence](https://x.org/l) \\(CC\\)") == "see the licence (CC)"
    assert (
        strip_markdown("*Italic title* and <https://iom.int>") == "Italic title and https://iom.int"
    )
    assert strip_markdown("* bullet") == "• bullet"
