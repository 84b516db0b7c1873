"""The MCP server driven by the SDK's own client: stdio through `iomqa mcp` in a child
process, streamable HTTP against `iomqa serve` (a real uvicorn on a free loopback port)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from core.settings import Settings
from iomqa.bench.server import running_server
from service.app import create_app
from service.export import FORMATS

from .conftest import REPO

TOKEN = "mcp-test-token"
PUBLIC_URL = "https://iomqa.example.org"
TOOLS = {"search_passages", "get_passage", "cite", "list_documents"}
IOM_COUNCIL = "How many Member States did the IOM Council have in 2018?"

Scenario = Callable[[ClientSession], Awaitable[None]]


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "IOMQA_INDEX_DIR": str(settings.index_dir),
        "IOMQA_CORPUS_DIR": str(settings.corpus_dir),
        "IOMQA_MODEL": settings.model,
        "IOMQA_MODEL_CACHE_DIR": str(settings.model_cache_dir),
        "IOMQA_RERANKER": settings.reranker,
        "IOMQA_PUBLIC_URL": PUBLIC_URL,
    }


@asynccontextmanager
async def stdio_session(settings: Settings) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "iomqa", "mcp"], env=env_for(settings), cwd=REPO
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(url: str, token: str | None = TOKEN) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def over_http(url: str, scenario: Scenario) -> None:
    async def run() -> None:
        async with http_session(url) as session:
            await scenario(session)

    asyncio.run(run())


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def tool_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def document_text(session: ClientSession, doc_id: str) -> str:
    result = await session.read_resource(f"iomqa://documents/{doc_id}/text")
    text: str = result.contents[0].text  # type: ignore[union-attr]
    return text


async def assert_spans(session: ClientSession, passages: list[dict[str, Any]]) -> None:
    """The span rule: the document's text [char_start:char_end] is the passage."""
    assert passages
    for p in passages:
        c = p["citation"]
        text = await document_text(session, c["doc_id"])
        assert text[c["char_start"] : c["char_end"]] == p["text"]
        for h in p.get("highlights", []):
            assert text[h["doc_start"] : h["doc_end"]] == h["text"]


async def assert_listings(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    search = tools["search_passages"]
    assert search.description and "answerable" in search.description
    assert all("\n " not in (t.description or "") for t in tools.values())  # read as text
    assert search.output_schema is not None and "passages" in search.output_schema["properties"]
    assert search.input_schema["properties"]["top_k"]["maximum"] == 50
    templates = {
        t.uri_template for t in (await session.list_resource_templates()).resource_templates
    }
    assert templates == {"iomqa://documents/{doc_id}", "iomqa://documents/{doc_id}/text"}
    uris = {str(r.uri) for r in (await session.list_resources()).resources}
    documents = (await call(session, "list_documents"))["documents"]
    suffixes = ("", "/text")
    assert uris == {f"iomqa://documents/{d['doc_id']}{s}" for d in documents for s in suffixes}
    prompts = {p.name: p for p in (await session.list_prompts()).prompts}
    prompt = await session.get_prompt("answer_with_citations", {"question": IOM_COUNCIL})
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "answer_with_citations" in prompts and IOM_COUNCIL in text
    assert "formatted" in text and "permalink" in text and "only" in text


async def assert_search_and_reading(session: ClientSession, base: str) -> str:
    """search_passages and get_passage; returns the best passage's id."""
    found = await call(session, "search_passages", question="remittances bonus", top_k=2)
    assert set(found) >= {"answerable", "confidence", "passages", "note"}
    assert len(found["passages"]) == 2
    for p in found["passages"]:
        assert p["permalink"] == f"{base}/p/{p['passage_id']}"
        assert p["citation"]["formatted"] and p["citation"]["doc_id"]
    await assert_spans(session, found["passages"])
    best = found["passages"][0]["passage_id"]
    around = await call(session, "get_passage", passage_id=best, context=2)
    assert around["passage"]["passage_id"] == best
    nearby = [around["passage"], *around["before"], *around["after"]]
    assert len(nearby) >= 2
    await assert_spans(session, nearby)
    alone = await call(session, "get_passage", passage_id=best, context=0)
    assert alone["before"] == alone["after"] == []
    return best


async def assert_citations(session: ClientSession, passage_id: str) -> None:
    for style in FORMATS:
        cited = await call(session, "cite", passage_id=passage_id, style=style)
        assert cited["style"] == style and cited["passage_id"] == passage_id and cited["text"]
    csl = await call(session, "cite", passage_id=passage_id, style="csl-json")
    assert json.loads(csl["text"])[0]["title"]
    apa = await call(session, "cite", passage_id=passage_id)  # apa by default
    doc_id = apa["doc_id"]
    whole = await call(session, "cite", doc_id=doc_id, style="bibtex")
    assert whole["passage_id"] is None and whole["text"].startswith("@")
    metadata = await session.read_resource(f"iomqa://documents/{doc_id}")
    assert json.loads(metadata.contents[0].text)["doc_id"] == doc_id  # type: ignore[union-attr]


async def assert_errors_then_usable(session: ClientSession) -> None:
    """Each bad argument is a tool error saying what is allowed; the session goes on."""
    empty = await tool_error(session, "search_passages", question="   ")
    assert "question" in empty and "non-blank" in empty
    too_many = await tool_error(session, "search_passages", question="migration", top_k=51)
    assert "top_k" in too_many and "1 to 50" in too_many
    assert "1 to 50" in await tool_error(session, "search_passages", question="x", top_k=0)
    unknown_doc = await tool_error(
        session, "search_passages", question="migration", filters={"doc_ids": ["nope"]}
    )
    assert "nope" in unknown_doc and "allowed" in unknown_doc
    unknown = await tool_error(session, "get_passage", passage_id="no-such-passage")
    assert "no-such-passage" in unknown and "search_passages" in unknown
    assert "0 to 5" in await tool_error(session, "get_passage", passage_id="x", context=6)
    assert "exactly one" in await tool_error(session, "cite")
    assert "known:" in await tool_error(session, "cite", doc_id="no-such-document")
    style = await tool_error(session, "cite", doc_id="x", style="mla")
    assert "apa" in style and "chicago" in style
    with pytest.raises(MCPError, match="known"):
        await session.read_resource("iomqa://documents/no-such-document/text")
    found = await call(session, "search_passages", question="migration", top_k=1)
    assert len(found["passages"]) == 1


async def full_session(session: ClientSession, base: str) -> None:
    await assert_listings(session)
    best = await assert_search_and_reading(session, base)
    await assert_citations(session, best)
    await assert_errors_then_usable(session)


def test_stdio_transport_serves_every_tool(small_index: Settings) -> None:
    async def run() -> None:
        async with stdio_session(small_index) as session:
            await full_session(session, PUBLIC_URL)

    asyncio.run(run())


def test_stdio_says_when_the_reports_do_not_answer(small_index: Settings) -> None:
    async def run() -> None:
        async with stdio_session(small_index) as session:
            found = await call(session, "search_passages", question="how many of them?")
            assert found["answerable"] is False and found["passages"]
            assert "don't say" in found["note"] and "memory" in found["note"]

    asyncio.run(run())


@pytest.fixture(scope="module")
def server(real_corpus_fake_index: Settings) -> Iterator[str]:
    with running_server(real_corpus_fake_index, IOMQA_MCP="1", IOMQA_MCP_TOKEN=TOKEN) as url:
        yield url


def test_http_transport_serves_every_tool(server: str) -> None:
    over_http(server, lambda session: full_session(session, server))


def test_http_first_passage_is_the_one_ask_gives(server: str) -> None:
    ask = httpx.post(f"{server}/ask", json={"question": IOM_COUNCIL}, timeout=60)
    assert ask.status_code == 200
    expected = ask.json()["passages"][0]

    async def scenario(session: ClientSession) -> None:
        found = await call(session, "search_passages", question=IOM_COUNCIL)
        first = found["passages"][0]
        assert first["passage_id"] == expected["passage_id"]
        assert first["citation"] == expected["citation"]
        assert found["answerable"] == ask.json()["answerable"]
        await assert_spans(session, found["passages"])

    over_http(server, scenario)


def test_http_needs_the_token(server: str) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    assert httpx.post(f"{server}/mcp", json=initialize).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert httpx.post(f"{server}/mcp", json=initialize, headers=wrong).status_code == 403


def test_mcp_is_off_unless_enabled(small_index: Settings) -> None:
    with TestClient(create_app(small_index)) as client:
        assert client.post("/mcp", json={}).status_code == 404


def test_admin_token_also_opens_mcp(small_index: Settings) -> None:
    secret = SecretStr("admin-secret")
    settings = small_index.model_copy(update={"mcp": True, "admin_token": secret})
    with TestClient(create_app(settings)) as client:
        assert client.post("/mcp", json={}).status_code == 401
        # Past the guard the transport itself answers: a JSON-RPC error for this empty body.
        headers = {"Authorization": "Bearer admin-secret"}
        r = client.post("/mcp", json={}, headers=headers)
        assert r.status_code == 400 and r.json()["jsonrpc"] == "2.0"
