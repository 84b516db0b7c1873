"""The real packaged model on the real corpus: what a new user sees."""

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp.client.client import Client

from core.models import BASE_MODEL, MS_MARCO_RERANKER, ModelSource
from core.settings import Settings
from index.build import BuildConfig, build_index
from ingest.embed import make_embedder
from service.app import create_app
from service.mcp.server import create_server
from tests.conftest import CORPUS

# The packaged all-MiniLM-L6-v2 and cross-encoder as shipped: the defaults tune them first
# (minutes on two cores); the tunings are tested on tiny models in test_tune.py and
# test_tune_reranker.py.
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[TestClient]:
    # Set up before the per-test isolation: the model cache is named here, or the ONNX
    # export would land in the checkout's var/models.
    index_dir = tmp_path_factory.mktemp("real") / "index"
    report = build_index(
        BuildConfig(corpus_dir=CORPUS, index_dir=index_dir),
        make_embedder(BASE_MODEL, ModelSource(None, model_cache)),
    )
    assert [d.status for d in report.documents] == ["ok"] * 5
    settings = Settings(
        corpus_dir=CORPUS,
        index_dir=index_dir,
        model=BASE_MODEL,
        model_cache_dir=model_cache,
        reranker=MS_MARCO_RERANKER.model_id,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def ask(client: TestClient, question: str, k: int = 3) -> list[dict]:  # type: ignore[type-arg]
    r = client.post("/ask", json={"question": question, "top_k": k})
    assert r.status_code == 200
    return r.json()["passages"]  # type: ignore[no-any-return]


def test_the_2016_workshop_attendance(client: TestClient) -> None:
    passages = ask(client, "How many participants attended the 2016 dialogue workshop in New York?")
    hit = next(p for p in passages if "some 300 participants" in p["text"])
    assert hit["citation"]["doc_id"] == "idm-2016-sdgs-follow-up"
    assert hit["citation"]["year"] == 2016
    assert "Follow-up and Review of Migration in the SDGs" in hit["citation"]["formatted"]


def test_the_2018_council_membership(client: TestClient) -> None:
    passages = ask(client, "How many Member States did the IOM Council have in 2018?")
    hit = next(p for p in passages if "169 Member States" in p["text"])
    assert hit["citation"]["doc_id"] == "iom-2018-hlpf-input"
    assert "(2018)" in hit["citation"]["formatted"]


def test_all_five_documents_answer_something(client: TestClient) -> None:
    questions = {
        "idm-35-2023": "What did the 2023 New York dialogue recommend on migration data?",
        "idm-32-2022": "How did COVID-19 change border management according to the 2021 dialogue?",
        "iom-2022-covid19-recovery": "How did the war in Ukraine change IOM's priorities?",
        "iom-2018-hlpf-input": "How can migrants avoid being left behind in resilient societies?",
        "idm-2016-sdgs-follow-up": "Who opened the 2016 workshop on migration in the SDGs?",
    }
    for doc_id, question in questions.items():
        assert doc_id in {p["citation"]["doc_id"] for p in ask(client, question, 5)}, question


def test_citations_are_exact_spans_of_the_canonical_text(client: TestClient) -> None:
    for question in ("remittances", "climate change and youth", "health coverage"):
        for p in ask(client, question, 20):
            c = p["citation"]
            text = client.get(f"/documents/{c['doc_id']}/text").text
            assert text[c["char_start"] : c["char_end"]] == p["text"]
            assert len(p["text"]) <= 1000


def test_corpus_files_are_the_published_texts(tmp_path: Path) -> None:
    assert sorted(p.suffix for p in CORPUS.iterdir()) == [".toml"] + [".txt"] * 5


def test_off_corpus_questions_are_flagged_but_still_answered(client: TestClient) -> None:
    off = client.post("/ask", json={"question": "Which football club won the 1998 cup final?"})
    assert off.json()["answerable"] is False and off.json()["passages"]
    on = client.post(
        "/ask", json={"question": "How many Member States did the IOM Council have in 2018?"}
    )
    assert on.json()["answerable"] is True
    assert on.json()["confidence"] > off.json()["confidence"]


def test_an_assistant_gets_the_first_passage_ask_gives(client: TestClient) -> None:
    """The MCP tool and POST /ask rank with the same searcher, model and reranker."""
    question = "How many Member States did the IOM Council have in 2018?"
    holder = client.app.state.holder  # type: ignore[attr-defined]
    server = create_server(lambda: holder.current, "http://testserver")

    async def first_passage() -> dict:  # type: ignore[type-arg]
        async with Client(server) as mcp:
            result = await mcp.call_tool("search_passages", {"question": question})
            assert not result.is_error and result.structured_content is not None
            return result.structured_content["passages"][0]  # type: ignore[no-any-return]

    via_mcp = anyio.run(first_passage)
    via_ask = ask(client, question, k=5)[0]
    assert via_mcp["passage_id"] == via_ask["passage_id"]
    assert "169 Member States" in via_mcp["text"]
    assert via_mcp["citation"]["formatted"] == via_ask["citation"]["formatted"]
