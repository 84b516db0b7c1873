"""Names of several words in a question, and whether the best passages mention them."""

from core.settings import Settings
from index.names import absent_names, multiword_names
from index.searcher import Searcher


def test_a_name_is_a_run_of_capitalised_words_joined_by_the_small_words_of_names() -> None:
    assert multiword_names(
        "What does the Doha Programme of Action for the Least Developed Countries say?"
    ) == ["Doha Programme of Action", "Least Developed Countries"]
    assert multiword_names("What did the Kampala Ministerial Declaration on Migration say?") == [
        "Kampala Ministerial Declaration on Migration"
    ]


def test_owners_numbers_and_and_end_a_name() -> None:
    question = "How many people did IOM's Assisted Voluntary Return and Reintegration help in 2022?"
    assert multiword_names(question) == ["Assisted Voluntary Return"]
    assert multiword_names("Who spoke at the 2016 New York workshop?") == ["New York"]
    assert multiword_names("How many crossed between Colombia and Panama?") == []


def test_the_first_word_single_words_and_regions_are_no_names() -> None:
    assert multiword_names("Which Central American country opened a route?") == []
    assert multiword_names("Which flood-prone South Asian country adapted clinics?") == []
    assert multiword_names("Migration Data matters to whom?") == []
    assert multiword_names("What did IOM say about the GCM?") == []
    # A region that is part of a longer name still names something.
    assert multiword_names("Who died on the Central Mediterranean route?") == [
        "Central Mediterranean"
    ]


def test_a_name_is_found_without_case_and_across_line_breaks() -> None:
    texts = ["The Mayors\nMechanism involved cities.", "Other text."]
    assert absent_names(["Mayors Mechanism", "Rabat Process"], texts) == ["Rabat Process"]
    assert absent_names(["mayors mechanism"], texts) == []
    assert absent_names([], texts) == []


def test_the_searcher_flags_a_name_its_best_passages_never_mention(
    small_index: Settings,
) -> None:
    searcher = Searcher.open_current(small_index.index_dir)
    known = searcher.search("Who took part in the Mayors Mechanism?", 3)
    unknown = searcher.search("Who took part in the Rabat Mayors Process?", 3)
    assert known.signals.absent_name == 0.0
    assert unknown.signals.absent_name == 1.0
