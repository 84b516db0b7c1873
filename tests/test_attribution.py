"""The question the cross-encoder reads leaves out where the answer is said to be."""

from index.attribution import without_attribution


def test_a_trailing_according_to_clause_is_left_out() -> None:
    assert (
        without_attribution("What share of migrants are young, according to the data panel?")
        == "What share of migrants are young?"
    )
    assert (
        without_attribution("How many were reached by campaigns according to the 2021 report?")
        == "How many were reached by campaigns?"
    )


def test_a_leading_or_inserted_source_is_left_out() -> None:
    assert (
        without_attribution("According to IOM's 2023 report, how many goals are tied to mobility?")
        == "How many goals are tied to mobility?"
    )
    assert (
        without_attribution("In IOM's view, how should the review body relate to the compact?")
        == "How should the review body relate to the compact?"
    )
    assert (
        without_attribution("Which regions does the report, as quoted at IDM 2023, name?")
        == "Which regions does the report, name?"
    )
    assert (
        without_attribution("What are Peacebuilding Funds, as defined in the IDM 2023 report?")
        == "What are Peacebuilding Funds?"
    )


def test_questions_without_a_source_or_with_too_little_left_are_unchanged() -> None:
    plain = "Which partners were involved in the Mayors Mechanism?"
    assert without_attribution(plain) == plain
    assert without_attribution("In IOM's view, what matters?") == "In IOM's view, what matters?"
    assert without_attribution("According to IOM?") == "According to IOM?"
    # "according" that attributes nothing stays.
    assert without_attribution("Did costs rise accordingly?") == "Did costs rise accordingly?"
