"""What a question asks for, and whether the leading passage holds it."""

import pytest

from core.settings import Settings
from index.asked import absent_numbers, answer_absent, dates, numbers
from index.searcher import Searcher


def test_numbers_are_compared_without_separators_or_a_final_point() -> None:
    assert numbers("Some 14,000 farmers in 2021; target 10.7.2.") == {"14000", "2021", "10.7.2"}
    assert numbers("no figures here") == set()


def test_a_year_the_question_names_must_be_written_in_the_passage() -> None:
    question = "How many health assessments did IOM carry out in 2021?"
    assert absent_numbers(question, "IOM carried out 770,000 health assessments in 2022.") == {
        "2021"
    }
    assert absent_numbers(question, "In 2021 IOM carried out 700,000 assessments.") == set()
    assert absent_numbers("Who moderated the panel?", "anything at all") == set()


@pytest.mark.parametrize(
    ("question", "highlights", "absent"),
    [
        # A count asked: a new number answers; the question's own year does not.
        ("How many people were displaced in 2021?", "In 2021 displacement rose.", True),
        ("How many people were displaced in 2021?", "In 2021, 60 million were.", False),
        ("What share of transactions came from small investors?", "most of them", True),
        ("What share of transactions came from small investors?", "80 per cent", False),
        # A date asked: a year or month the question does not name answers.
        ("When was the plan adopted?", "The plan was adopted by the Council.", True),
        ("When was the plan adopted?", "It was adopted in October 2020.", False),
        ("In what year did the meeting in March take place?", "It met in March.", True),
        ("In what year did the meeting in March take place?", "It met in March 2019.", False),
        # Other questions ask for nothing this can check.
        ("Which platform did India develop?", "It developed eMigrate.", False),
        ("Who chaired it?", "no name given", False),
    ],
)
def test_a_question_asking_for_a_number_or_date_needs_one_highlighted(
    question: str, highlights: str, absent: bool
) -> None:
    assert answer_absent(question, highlights) is absent


def test_dates_are_years_and_month_names() -> None:
    assert dates("From March 2019 to 2021, and 150 people") == {"March", "2019", "2021"}


def test_the_searcher_flags_a_near_miss_on_its_leading_passage(small_index: Settings) -> None:
    searcher = Searcher.open_current(small_index.index_dir)
    given = searcher.search("How much did remittances reach in the pilot?", 3)
    assert given.signals.absent_number == 0.0 and given.signals.answer_absent == 0.0
    other_year = searcher.search("How much did remittances reach in the 2031 pilot?", 3)
    assert other_year.signals.absent_number == 1.0
    no_figure = searcher.search("How many migrants need access to health services?", 3)
    assert "health services" in no_figure.hits[0].passage.text
    assert no_figure.signals.answer_absent == 1.0
