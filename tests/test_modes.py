"""Ranking modes: `precise` (the default: a cross-encoder reranks the first stage's best
candidates) and `fast` (the first stage only), through the API, the CLI and the
evaluation harness; every answer says what ran and how long each step took."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.records import Mode, SearchResult
from core.settings import Settings
from index import rerank
from index.searcher import Searcher
from iomqa.evaluation import service as evaluation_service
from service.app import create_app
from service.deps import HolderDep, get_searcher
from tests.test_cli import iomqa

STAGE_FIELDS = {
    "mode",
    "reranked",
    "reranker",
    "read_whole",
    "rerank_weight",
    "adapted",
    "encode_ms",
    "first_stage_ms",
    "rerank_ms",
    "total_ms",
    "cached",
}
RERANKER = "test/cross-encoder"


class RecordingSearcher:
    """The served searcher, remembering the mode of every search."""

    def __init__(self, inner: Searcher) -> None:
        self._inner = inner
        self.modes: list[Mode] = []

    def search(self, *args: Any, **kwargs: Any) -> SearchResult:
        result: SearchResult = self._inner.search(*args, **kwargs)
        self.modes.append(result.stages.mode)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RerankingSearcher(RecordingSearcher):
    """As a searcher with its cross-encoder will answer in precise mode: the best three
    candidates read, each hit with the cross-encoder's logit and rank."""

    def search(self, *args: Any, **kwargs: Any) -> SearchResult:
        result = super().search(*args, **kwargs)
        if result.stages.mode != Mode.PRECISE:
            return result
        scores = [2.123456 - i for i in range(3)]
        hits = [
            dataclasses.replace(
                h,
                why=dataclasses.replace(
                    h.why,
                    rerank_score=scores[i] if i < 3 else None,
                    rerank_rank=i + 1 if i < 3 else None,
                ),
            )
            for i, h in enumerate(result.hits)
        ]
        stages = dataclasses.replace(result.stages, rerank_ms=7.891, reranked=3, reranker=RERANKER)
        return dataclasses.replace(result, hits=hits, stages=stages)


@pytest.fixture(scope="module")
def client(real_corpus_fake_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(real_corpus_fake_index)) as c:
        yield c


def serve_through(app: FastAPI, wrapper: type[RecordingSearcher]) -> list[RecordingSearcher]:
    """Route the app's searches through `wrapper`; the list receives each one made."""
    made: list[RecordingSearcher] = []

    async def wrapped(holder: HolderDep) -> RecordingSearcher:
        assert holder.current is not None
        made.append(wrapper(holder.current))
        return made[-1]

    app.dependency_overrides[get_searcher] = wrapped
    return made


def assert_says_what_ran(body: dict[str, Any], mode: str) -> None:
    stages = body["stages"]
    assert set(stages) == STAGE_FIELDS and stages["mode"] == mode
    assert min(stages["encode_ms"], stages["first_stage_ms"], stages["rerank_ms"]) >= 0
    assert stages["total_ms"] == body["took_ms"]
    whys = [p["why"] for p in body["passages"]]
    assert whys and all({"rerank_score", "rerank_rank"} <= set(w) for w in whys)
    if stages["reranked"] == 0:
        # Nothing read by a cross-encoder: no model named, no time, no scores.
        assert stages["reranker"] is None and stages["rerank_ms"] == 0
        assert stages["read_whole"] == 0 and stages["rerank_weight"] == 0
        assert all(w["rerank_score"] is None and w["rerank_rank"] is None for w in whys)
    else:
        assert stages["reranker"] and 0 <= stages["read_whole"] <= stages["reranked"]
        assert 0 <= stages["rerank_weight"] <= 1
        ranks = [w["rerank_rank"] for w in whys if w["rerank_rank"] is not None]
        assert ranks and len(set(ranks)) == len(ranks)
        assert all(1 <= r <= stages["reranked"] for r in ranks)


def test_precise_is_the_default_and_the_answer_says_so(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "return and reintegration of migrants"}).json()
    assert_says_what_ran(body, "precise")
    stages = body["stages"]
    assert stages["cached"] is False and stages["reranker"] == Settings().reranker
    assert stages["reranked"] > 0 and stages["rerank_ms"] > 0
    explicit = client.post(
        "/ask", json={"question": "return and reintegration of migrants", "mode": "precise"}
    )
    # The same question in the default mode: one answer, from the cache.
    assert explicit.headers["X-Answer-Cache"] == "hit"
    assert explicit.json()["passages"] == body["passages"]


def test_fast_says_fast_and_reranks_nothing(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "diaspora engagement", "mode": "fast"}).json()
    assert_says_what_ran(body, "fast")
    stages = body["stages"]
    assert stages["reranked"] == 0 and stages["rerank_ms"] == 0 and stages["reranker"] is None
    assert all(p["why"]["rerank_score"] is None for p in body["passages"])


@pytest.mark.parametrize("mode", ["precise", "fast"])
def test_get_and_post_agree(client: TestClient, mode: str) -> None:
    question = f"climate change and displacement ({mode})"
    got = client.get("/ask", params={"q": question, "k": 4, "mode": mode}).json()
    posted = client.post("/ask", json={"question": question, "top_k": 4, "mode": mode}).json()
    assert_says_what_ran(got, mode)
    assert got["stages"]["mode"] == posted["stages"]["mode"] == mode
    assert [p["passage_id"] for p in got["passages"]] == [
        p["passage_id"] for p in posted["passages"]
    ]


def test_get_without_a_mode_is_precise(client: TestClient) -> None:
    assert (
        client.get("/ask", params={"q": "labour migration"}).json()["stages"]["mode"] == "precise"
    )


@pytest.mark.parametrize("mode", ["slow", "PRECISE", "", " fast"])
def test_an_unknown_mode_is_a_422_listing_the_modes(client: TestClient, mode: str) -> None:
    answers = [
        client.get("/ask", params={"q": "migration", "mode": mode}),
        client.post("/ask", json={"question": "migration", "mode": mode}),
    ]
    for r in answers:
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert detail.startswith("mode: ") and "precise" in detail and "fast" in detail
        assert "(allowed: precise (default" in detail
        assert [e["loc"][-1] for e in r.json()["errors"]] == ["mode"]


@pytest.mark.parametrize("mode", [None, 1, ["fast"]])
def test_a_mode_that_is_not_a_string_is_a_422(client: TestClient, mode: object) -> None:
    r = client.post("/ask", json={"question": "migration", "mode": mode})
    assert r.status_code == 422 and "precise" in r.json()["detail"]


def test_the_mode_reaches_the_searcher(real_corpus_fake_index: Settings) -> None:
    app = create_app(real_corpus_fake_index.model_copy(update={"answer_cache": 0}))
    made = serve_through(app, RecordingSearcher)
    with TestClient(app) as c:
        c.post("/ask", json={"question": "remittances", "mode": "fast"})
        c.get("/ask", params={"q": "remittances", "mode": "fast"})
        c.post("/ask", json={"question": "remittances"})
        c.get("/ask", params={"q": "remittances"})
    assert [m for s in made for m in s.modes] == [Mode.FAST, Mode.FAST, Mode.PRECISE, Mode.PRECISE]


def test_the_cache_keeps_each_mode_s_answer_apart(client: TestClient) -> None:
    body = {"question": "integration of migrants in cities", "top_k": 3}
    first = {m: client.post("/ask", json={**body, "mode": m}) for m in ("precise", "fast")}
    again = {m: client.post("/ask", json={**body, "mode": m}) for m in ("fast", "precise")}
    for mode in ("precise", "fast"):
        assert first[mode].headers["X-Answer-Cache"] == "miss"
        assert again[mode].headers["X-Answer-Cache"] == "hit"
        before, after = first[mode].json()["stages"], again[mode].json()["stages"]
        assert after["mode"] == mode and after["cached"] is True and before["cached"] is False
        # The cached answer's steps are those of the search that made it.
        same = ("reranked", "reranker", "encode_ms", "first_stage_ms", "rerank_ms")
        assert {f: after[f] for f in same} == {f: before[f] for f in same}


def test_a_reranked_answer_shows_the_cross_encoder_s_scores(
    real_corpus_fake_index: Settings,
) -> None:
    app = create_app(real_corpus_fake_index)
    serve_through(app, RerankingSearcher)
    with TestClient(app) as c:
        precise = c.post("/ask", json={"question": "remittances", "top_k": 5}).json()
        fast = c.post("/ask", json={"question": "remittances", "top_k": 5, "mode": "fast"}).json()
    assert_says_what_ran(precise, "precise")
    stages = precise["stages"]
    assert (stages["reranked"], stages["reranker"], stages["rerank_ms"]) == (3, RERANKER, 7.89)
    whys = [p["why"] for p in precise["passages"]]
    assert [w["rerank_rank"] for w in whys] == [1, 2, 3, None, None]
    assert [w["rerank_score"] for w in whys[:3]] == [2.1235, 1.1235, 0.1235]
    assert_says_what_ran(fast, "fast")
    assert fast["stages"]["reranked"] == 0


def test_the_schema_documents_mode_and_stages(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert components["Mode"]["enum"] == ["precise", "fast"]
    mode = components["AskRequest"]["properties"]["mode"]
    assert mode["default"] == "precise" and "fast" in mode["description"]
    (param,) = [p for p in schema["paths"]["/ask"]["get"]["parameters"] if p["name"] == "mode"]
    assert param["schema"]["default"] == "precise" and "fast" in param["description"]
    response = components["AskResponse"]
    assert "stages" in response["required"] and response["properties"]["stages"]["description"]
    stages = components["StagesOut"]
    assert set(stages["properties"]) == STAGE_FIELDS and set(stages["required"]) == STAGE_FIELDS
    assert all(p.get("description") for p in stages["properties"].values())
    why = components["WhyOut"]["properties"]
    assert why["rerank_score"]["description"] and why["rerank_rank"]["description"]


@pytest.fixture
def cli_env(small_index: Settings) -> dict[str, str]:
    return {
        "IOMQA_CORPUS_DIR": str(small_index.corpus_dir),
        "IOMQA_INDEX_DIR": str(small_index.index_dir),
    }


def test_the_cli_asks_precisely_unless_told_fast(cli_env: dict[str, str]) -> None:
    default = iomqa("ask", "remittances bonus", "-k", "2", "--json", env=cli_env)
    assert default.returncode == 0, default.stderr
    stages = json.loads(default.stdout)["stages"]
    assert set(stages) == STAGE_FIELDS and stages["mode"] == "precise"
    # The configured cross-encoder (IOMQA_RERANKER, on by default) read the candidates.
    assert stages["reranked"] > 0 and stages["reranker"] == Settings().reranker
    assert stages["read_whole"] == min(rerank.WHOLE_DEPTH, stages["reranked"])
    fast = iomqa("ask", "remittances bonus", "--mode", "fast", "--json", env=cli_env)
    assert fast.returncode == 0, fast.stderr
    stages = json.loads(fast.stdout)["stages"]
    assert stages["mode"] == "fast" and stages["reranked"] == 0 and stages["rerank_ms"] == 0
    text = iomqa("ask", "remittances bonus", "--mode", "fast", env=cli_env)
    assert text.returncode == 0 and "fast: no reranking" in text.stderr
    # Wide enough that the error box does not wrap the message.
    wrong = iomqa("ask", "remittances bonus", "--mode", "slow", env={**cli_env, "COLUMNS": "200"})
    assert wrong.returncode == 2
    assert "'--mode': " in wrong.stderr and "'slow' is not one of 'precise', 'fast'" in wrong.stderr


def test_eval_names_the_mode_it_asked_for(cli_env: dict[str, str], tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    record = {
        "id": "q1",
        "kind": "number",
        "question": "How large was the bonus on transfers?",
        "doc_id": "alpha",
        "evidence": "Banks offered a 2% bonus on transfers.",
        "part": "body",
    }
    questions.write_text(json.dumps(record) + "\n", encoding="utf-8")
    args = ("eval", "--questions", str(questions), "--no-baselines", "--k", "5")
    fast = iomqa(*args, "--mode", "fast", env=cli_env)
    assert fast.returncode == 0, fast.stderr
    assert "\n| iomqa (POST /ask, fast) | " in fast.stdout
    assert "| system (90% bootstrap intervals) |" in fast.stdout
    default = iomqa(*args, env=cli_env)
    assert default.returncode == 0 and "\n| iomqa (POST /ask, precise) | " in default.stdout
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps(record | {"id": "q2"}) + "\n", encoding="utf-8")
    both = iomqa(*args, "--questions", str(more), "--mode", "fast", env=cli_env)
    assert both.returncode == 0 and "on 2 questions" in both.stderr
    twice = iomqa(*args, "--questions", str(questions), env=cli_env)
    assert twice.returncode == 2 and "question id 'q1' appears twice" in twice.stderr


@pytest.mark.parametrize("mode", list(Mode))
def test_the_evaluated_service_is_asked_in_the_mode(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    apps: list[list[RecordingSearcher]] = []

    def recording_app(settings: Settings) -> FastAPI:
        app = create_app(settings)
        apps.append(serve_through(app, RecordingSearcher))
        return app

    monkeypatch.setattr(evaluation_service, "create_app", recording_app)
    ask = evaluation_service.service_system(small_index, mode=mode)
    assert ask("remittances", 3).passages
    (searchers,) = apps
    assert [m for s in searchers for m in s.modes] == [mode]
