"""HTTP API through TestClient over the real corpus indexed with the hashing embedder."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from index.hints import REGION_BONUS, YEAR_BONUS
from index.searcher import SHARED_PENALTY
from service.app import create_app


@pytest.fixture(scope="module")
def client(real_corpus_fake_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(real_corpus_fake_index)) as c:
        yield c


def test_health_reports_the_served_version(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["passages"] > 100
    assert body["index_version"]


def test_post_ask_returns_ranked_cited_passages(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "IOM Council Member States", "top_k": 7})
    assert r.status_code == 200
    body = r.json()
    assert body["question"] == "IOM Council Member States"
    assert body["index_version"] == client.get("/health").json()["index_version"]
    assert body["took_ms"] >= 0
    assert [p["rank"] for p in body["passages"]] == list(range(1, 8))
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)
    citation = body["passages"][0]["citation"]
    assert set(citation) == {
        "doc_id",
        "title",
        "year",
        "series",
        "number",
        "source",
        "page",
        "page_label",
        "section",
        "char_start",
        "char_end",
        "formatted",
    }
    assert citation["page"] is None and citation["page_label"] is None  # text sources


def test_get_ask_is_the_same_as_post(client: TestClient) -> None:
    got = client.get("/ask", params={"q": "remittances in crisis", "k": 3}).json()
    posted = client.post("/ask", json={"question": "remittances in crisis", "top_k": 3}).json()
    assert [p["passage_id"] for p in got["passages"]] == [
        p["passage_id"] for p in posted["passages"]
    ]


def test_default_top_k_is_five(client: TestClient) -> None:
    assert len(client.post("/ask", json={"question": "migration data"}).json()["passages"]) == 5


def test_every_citation_points_at_its_exact_text(client: TestClient) -> None:
    texts: dict[str, str] = {}
    for question in ("migration data", "health of migrants", "diaspora remittances", "youth"):
        body = client.post("/ask", json={"question": question, "top_k": 50}).json()
        for p in body["passages"]:
            c = p["citation"]
            if c["doc_id"] not in texts:
                texts[c["doc_id"]] = client.get(f"/documents/{c['doc_id']}/text").text
            assert texts[c["doc_id"]][c["char_start"] : c["char_end"]] == p["text"]
            assert c["title"] in c["formatted"] and str(c["year"]) in c["formatted"]
    assert len(texts) == 5


@pytest.mark.parametrize(
    ("payload", "field", "allowed"),
    [
        ({"question": ""}, "question", "1–2000 characters"),
        ({"question": "   \n\t "}, "question", "not only whitespace"),
        ({"question": "x" * 2001}, "question", "1–2000 characters"),
        ({"question": "ok", "top_k": 0}, "top_k", "from 1 to 50"),
        ({"question": "ok", "top_k": 51}, "top_k", "from 1 to 50"),
        ({"question": "ok", "top_k": "many"}, "top_k", "from 1 to 50"),
        ({}, "question", "1–2000 characters"),
        ({"question": 42}, "question", "1–2000 characters"),
        ({"question": "ok", "topk": 3}, "topk", "Extra inputs"),
    ],
)
def test_bad_questions_get_422_saying_what_is_allowed(
    client: TestClient, payload: dict[str, object], field: str, allowed: str
) -> None:
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    assert field in r.json()["detail"] and allowed in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ({"q": " "}, "whitespace"),
        ({"q": "x" * 2001}, "1–2000"),
        ({"q": "a", "k": 99}, "1 to 50"),
        ({}, "q: Field required"),
    ],
)
def test_bad_get_queries_get_422(
    client: TestClient, params: dict[str, object], allowed: str
) -> None:
    r = client.get("/ask", params=params)
    assert r.status_code == 422 and allowed in r.json()["detail"]


def test_malformed_json_is_a_client_error(client: TestClient) -> None:
    r = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_passage_endpoint_links_neighbours(client: TestClient) -> None:
    top = client.post("/ask", json={"question": "Member States", "top_k": 1}).json()
    pid = top["passages"][0]["passage_id"]
    detail = client.get(f"/passages/{pid}").json()
    assert detail["passage_id"] == pid and detail["text"] == top["passages"][0]["text"]
    if detail["next_passage_id"]:
        after = client.get(f"/passages/{detail['next_passage_id']}").json()
        assert after["previous_passage_id"] == pid
        assert after["citation"]["char_start"] >= detail["citation"]["char_end"]


def test_canonical_texts_carry_no_markup(client: TestClient) -> None:
    for doc in client.get("/documents").json()["documents"]:
        text = client.get(f"/documents/{doc['doc_id']}/text").text
        for markup in ("<p>", "</p>", "<ul", "**", "\n## ", "\t"):
            assert markup not in text, (doc["doc_id"], markup)


def test_documents_list_and_detail(client: TestClient) -> None:
    docs = client.get("/documents").json()["documents"]
    assert {d["doc_id"] for d in docs} == {
        "idm-35-2023",
        "idm-32-2022",
        "idm-2016-sdgs-follow-up",
        "iom-2018-hlpf-input",
        "iom-2022-covid19-recovery",
    }
    assert all(d["passages"] > 0 for d in docs)
    one = client.get("/documents/idm-35-2023").json()
    assert one["isbn"] == "978-92-9268-704-5" and one["number"] == 35 and one["year"] == 2023


@pytest.mark.parametrize(
    "path", ["/passages/0000000000000000", "/documents/nope", "/documents/nope/text"]
)
def test_unknown_ids_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert path.split("/")[2] in r.json()["detail"]


def test_openapi_documents_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/ask" in schema["paths"]
    assert "examples" in schema["components"]["schemas"]["AskRequest"]
    assert client.get("/docs").status_code == 200


def test_without_an_index_the_service_says_how_to_build_one(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "none", model="hashing-64")
    with TestClient(create_app(settings)) as c:
        health = c.get("/health")
        assert health.status_code == 503 and "iomqa ingest" in health.json()["detail"]
        ask = c.post("/ask", json={"question": "anything"})
        assert ask.status_code == 503 and "iomqa ingest" in ask.json()["detail"]


def test_answers_explain_highlight_and_count_per_document(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "IOM Council Member States", "top_k": 5}).json()
    assert isinstance(body["answerable"], bool) and 0 <= body["confidence"] <= 1
    assert sum(f["hits"] for f in body["facets"]) == 50
    assert {f["doc_id"] for f in body["facets"]} <= {
        "idm-35-2023",
        "idm-32-2022",
        "idm-2016-sdgs-follow-up",
        "iom-2018-hlpf-input",
        "iom-2022-covid19-recovery",
    }
    for p in body["passages"]:
        assert set(p["why"]) == {
            "bm25_rank",
            "bm25_score",
            "dense_rank",
            "dense_score",
            "fused",
            "bonus",
            "hints",
            "rerank_score",
            "rerank_rank",
        }
        assert 1 <= len(p["highlights"]) <= 2
        for h in p["highlights"]:
            assert p["text"][h["start"] : h["end"]] == h["text"]
            c = p["citation"]
            assert (h["doc_start"], h["doc_end"]) == (
                c["char_start"] + h["start"],
                c["char_start"] + h["end"],
            )
        for other in p["also_in"]:
            assert other["passage_id"] != p["passage_id"]
    # The first stage alone orders by the fused score.
    fast = client.post(
        "/ask", json={"question": "IOM Council Member States", "top_k": 5, "mode": "fast"}
    ).json()
    assert all(p["why"]["fused"] == p["score"] for p in fast["passages"])


def test_filters_narrow_the_search(client: TestClient) -> None:
    body = client.post(
        "/ask",
        json={
            "question": "migration data",
            "top_k": 10,
            "filters": {"year_from": 2022, "type": ["IDM report"]},
        },
    ).json()
    assert {p["citation"]["doc_id"] for p in body["passages"]} <= {"idm-35-2023", "idm-32-2022"}
    assert {f["doc_id"] for f in body["facets"]} == {"idm-35-2023", "idm-32-2022"}
    only = client.post(
        "/ask", json={"question": "migration", "filters": {"doc_ids": ["iom-2018-hlpf-input"]}}
    ).json()
    assert {p["citation"]["doc_id"] for p in only["passages"]} == {"iom-2018-hlpf-input"}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"doc_ids": ["nope"]}, "unknown ['nope']"),
        ({"year_from": 1200}, "greater than or equal to 1900"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_filters_are_422(client: TestClient, filters: dict[str, object], message: str) -> None:
    r = client.post("/ask", json={"question": "migration", "filters": filters})
    assert r.status_code == 422 and message in r.json()["detail"]


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_passages(
    client: TestClient,
) -> None:
    body = {"question": "labour mobility and skills partnerships", "top_k": 4}
    first = client.post("/ask", json=body)
    again = client.post("/ask", json=body)
    assert first.headers["X-Answer-Cache"] == "miss" and again.headers["X-Answer-Cache"] == "hit"
    assert again.json()["passages"] == first.json()["passages"]
    # Another top_k or other filters are another question.
    other = client.post("/ask", json={**body, "top_k": 2})
    assert other.headers["X-Answer-Cache"] == "miss" and len(other.json()["passages"]) == 2
    filtered = client.post("/ask", json={**body, "filters": {"year_from": 2022}})
    assert filtered.headers["X-Answer-Cache"] == "miss"
    assert all(p["citation"]["year"] >= 2022 for p in filtered.json()["passages"])


def test_the_cache_can_be_turned_off(real_corpus_fake_index: Settings) -> None:
    settings = real_corpus_fake_index.model_copy(update={"answer_cache": 0})
    with TestClient(create_app(settings)) as c:
        for _ in range(2):
            r = c.post("/ask", json={"question": "remittances"})
            assert r.status_code == 200 and r.headers["X-Answer-Cache"] == "miss"


def test_a_year_and_a_region_in_the_question_lift_what_satisfies_them(client: TestClient) -> None:
    question = "Which Central American country did IOM help with migration transit centres in 2023?"
    body = client.post("/ask", json={"question": question, "top_k": 10}).json()
    central_america = ("Belize", "Costa Rica", "El Salvador", "Guatemala", "Honduras", "Mexico")
    central_america += ("Nicaragua", "Panama", "Salvadoran", "Honduran", "Mexican")
    lifted = [p for p in body["passages"] if p["why"]["bonus"] > 0]
    assert lifted, "no passage of the 2023 report or naming a Central American country"
    for p in body["passages"]:
        why = p["why"]
        from_2023 = p["citation"]["year"] == 2023
        names_one = any(name in p["text"] for name in central_america)
        assert ("document of 2023" in why["hints"]) == from_2023
        assert any(h.endswith("(Central American)") for h in why["hints"]) == names_one
        assert why["bonus"] == pytest.approx(
            (YEAR_BONUS if from_2023 else 0) + (REGION_BONUS if names_one else 0), abs=1e-3
        )
    # The bonus decides the order: a result that satisfies both hints comes first.
    assert body["passages"][0]["why"]["bonus"] == pytest.approx(YEAR_BONUS + REGION_BONUS, abs=1e-3)


def test_boilerplate_shared_by_two_reports_is_marked_and_ranked_down(client: TestClient) -> None:
    question = "designations employed and presentation of material legal status of any country"
    body = client.post("/ask", json={"question": question, "top_k": 10}).json()
    disclaimer = [p for p in body["passages"] if "designations employed" in p["text"]]
    assert disclaimer, "the publishers' disclaimer should answer a question quoting it"
    for p in disclaimer:
        # Collapsed into one result, the other report's copy listed beside it...
        assert {o["citation"]["doc_id"] for o in p["also_in"]} - {p["citation"]["doc_id"]}
        # ...and scored down, saying why.
        assert "repeated in another document" in p["why"]["hints"]
        assert p["why"]["bonus"] == pytest.approx(-SHARED_PENALTY, abs=1e-3)
    for p in body["passages"]:
        if "repeated in another document" not in p["why"]["hints"]:
            assert p["why"]["bonus"] >= 0
