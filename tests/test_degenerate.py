"""Questions that name nothing are never confidently answerable."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.records import Mode
from core.settings import Settings
from index.confidence import has_content
from index.keyword import query_tokens
from index.searcher import Searcher
from service.app import create_app

DEGENERATE = ["the", "a", "what is it?", "a\u0000b", "\u0001\u0002", "how many of them?", "5"]
CONTENTFUL = ["UN", "IOM Council", "remittances in 2018", "Member States\u0000?"]


@pytest.mark.parametrize("question", DEGENERATE)
def test_a_question_of_stop_words_control_characters_or_single_letters_has_no_content(
    question: str,
) -> None:
    assert not has_content(query_tokens(question))


@pytest.mark.parametrize("question", CONTENTFUL)
def test_a_question_naming_something_has_content(question: str) -> None:
    assert has_content(query_tokens(question))


@pytest.fixture(scope="module")
def client(real_corpus_fake_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(real_corpus_fake_index)) as c:
        yield c


@pytest.mark.parametrize("question", DEGENERATE)
@pytest.mark.parametrize("mode", ["precise", "fast"])
def test_degenerate_questions_get_passages_but_no_confidence(
    client: TestClient, question: str, mode: str
) -> None:
    body = client.post("/ask", json={"question": question, "mode": mode}).json()
    assert body["answerable"] is False and body["confidence"] == 0.0
    assert body["passages"]  # the closest passages are still shown, as for any question


def test_the_same_words_with_content_are_scored_as_usual(real_corpus_fake_index: Settings) -> None:
    searcher = Searcher.open_current(real_corpus_fake_index.index_dir)
    result = searcher.search("How many Member States did the IOM Council have?", 5, mode=Mode.FAST)
    assert result.confidence > 0.0
