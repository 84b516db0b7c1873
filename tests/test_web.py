"""The researchers' web page in headless Chromium, against a real uvicorn process."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import bibtexparser
import httpx
import playwright.sync_api as playwright_api
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from iomqa.bench.server import running_server
from service.app import create_app
from service.export import FORMATS
from service.routes.web import LABELS, marked

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
ANSWERABLE = "How many Member States does the IOM Council have?"
OFF_CORPUS = "quantum chromodynamics gluon lattice"

if not os.path.exists(CHROMIUM):
    raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs it (Debian: chromium)")

Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect


@pytest.fixture(scope="module")
def server(real_corpus_fake_index: Settings) -> Iterator[str]:
    with running_server(real_corpus_fake_index, IOMQA_RELOAD_INTERVAL="0") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    errors: list[str] = []
    pg = context.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
    assert not errors, errors


def search(page: Page, question: str) -> None:
    page.goto("/")
    page.get_by_label("Ask a question").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("passage")


def test_typing_a_question_shows_cited_results_with_highlights(page: Page) -> None:
    search(page, ANSWERABLE)
    assert "q=How+many+Member+States" in page.url
    results = page.locator("li.result")
    expect(results.first).to_be_visible()
    assert results.count() == 10
    first = results.first
    expect(first.locator("mark").first).to_be_visible()
    assert first.locator("h3 a").inner_text().strip()
    expect(first.locator(".meta")).to_contain_text("20")
    expect(first.locator(".cite")).to_contain_text("International Organization for Migration")
    expect(page.locator("#no-evidence")).to_be_hidden()
    first.get_by_text("Why this result").click()
    expect(first.locator(".why dl")).to_contain_text("Keyword match (BM25)")
    # The highlighted text is exactly what the API says answers the question.
    api = httpx.post(
        f"{page.url.split('/?')[0]}/ask", json={"question": ANSWERABLE, "top_k": 10}
    ).json()
    assert first.locator("mark").first.inner_text() == api["passages"][0]["highlights"][0]["text"]
    if os.environ.get("IOMQA_SCREENSHOT") or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def test_why_says_what_the_question_s_year_added(page: Page, server: str) -> None:
    question = "How many Member States did the IOM Council have in 2018?"
    search(page, question)
    first = page.locator("li.result").first
    why = httpx.post(f"{server}/ask", json={"question": question, "top_k": 10}).json()["passages"][
        0
    ]["why"]
    assert "document of 2018" in why["hints"]
    first.get_by_text("Why this result").click()
    adjusted = first.locator(".why dd").nth(3)
    expect(adjusted).to_contain_text("document of 2018")
    expect(adjusted).to_contain_text(f"+{why['bonus']}")


def test_a_linked_search_runs_and_its_permalink_opens_the_passage_in_context(
    page: Page, server: str
) -> None:
    page.goto("/?q=remittances&k=5")
    expect(page.get_by_label("Ask a question")).to_have_value("remittances")
    expect(page.locator("li.result")).to_have_count(5)
    first = page.locator("li.result").first
    title = first.locator("h3").inner_text()
    first.get_by_role("link", name="Open in context").click()
    page.wait_for_url("**/p/*")
    passage_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    detail = httpx.get(f"{server}/passages/{passage_id}").json()
    # The sentences the search highlighted stay highlighted in context.
    marks = page.locator("#passage mark").all_inner_texts()
    assert marks and all(m in detail["text"] for m in marks)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert page.locator("#passage").inner_text().split() == detail["text"].split()
    expect(page.get_by_label("Permalink")).to_have_value(f"{server}/p/{passage_id}")
    if detail["citation"]["section"]:
        expect(page.locator("#section")).to_have_text(detail["citation"]["section"])
    if detail["next_passage_id"]:
        page.get_by_role("link", name="Next passage").click()
        page.wait_for_url(f"**/p/{detail['next_passage_id']}")
        page.get_by_role("link", name="Previous passage").click()
        page.wait_for_url(f"**/p/{passage_id}")
    page.go_back()
    page.go_back()
    page.go_back()
    expect(page.locator("li.result")).to_have_count(5)


def why_rows(page: Page) -> list[str]:
    first = page.locator("li.result").first
    first.get_by_text("Why this result").click()
    return first.locator(".why dt").all_inner_texts()


def test_the_fast_ranking_round_trips_through_the_url(page: Page, server: str) -> None:
    search(page, "remittances")
    expect(page.get_by_label("Ranking")).to_have_value("precise")
    expect(page.locator("#stages")).to_contain_text("Ranking: precise")
    api = httpx.post(f"{server}/ask", json={"question": "remittances", "top_k": 10}).json()
    read = api["passages"][0]["why"]["rerank_rank"] is not None
    whole = api["stages"]["read_whole"]
    assert whole > 0  # the default cross-encoder read the leading candidates twice
    expect(page.locator("#stages")).to_contain_text(f"{whole} also whole")
    weight = api["stages"]["rerank_weight"]
    expect(page.locator("#stages")).to_contain_text(f"weight {weight:.2f}")
    assert ("Cross-encoder (reranker)" in why_rows(page)) == read
    assert "mode=" not in page.url  # the default stays out of links
    with page.expect_request("**/ask") as asked:
        page.get_by_label("Ranking").select_option("fast")
    assert (asked.value.post_data_json or {})["mode"] == "fast"
    page.wait_for_url("**mode=fast**")
    stages = page.locator("#stages")
    expect(stages).to_contain_text("Ranking: fast (no reranking)")
    expect(stages).to_contain_text(" ms")
    expect(page.locator("li.result").first).to_be_visible()
    assert "Cross-encoder (reranker)" not in why_rows(page)
    # Back and forward move between the two rankings.
    page.go_back()
    expect(page.get_by_label("Ranking")).to_have_value("precise")
    expect(stages).to_contain_text("Ranking: precise")
    page.go_forward()
    expect(stages).to_contain_text("Ranking: fast")
    # The link reproduces the search: a fresh page asks for the fast ranking again.
    fresh = page.context.new_page()
    with fresh.expect_request("**/ask") as asked:
        fresh.goto(page.url)
    assert asked.value.post_data_json == {"question": "remittances", "top_k": 10, "mode": "fast"}
    expect(fresh.get_by_label("Ranking")).to_have_value("fast")
    expect(fresh.locator("#stages")).to_contain_text("Ranking: fast")
    fresh.close()


def test_an_unknown_passage_is_a_404_page(page: Page) -> None:
    response = page.goto("/p/does-not-exist")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Passage not found")
    expect(page.get_by_role("link", name="Search the documents")).to_be_visible()


def test_filters_narrow_the_results_and_stay_in_the_url(page: Page) -> None:
    search(page, "migration and development")
    page.locator("#filters summary").click()
    page.get_by_role("checkbox", name="IOM input to the 2018 High-level Political Forum").check()
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**doc=iom-2018-hlpf-input**")
    expect(page.locator("#status")).to_contain_text("passages")
    titles = page.locator("li.result h3").all_inner_texts()
    assert titles and all(t.startswith("IOM input to the 2018") for t in titles)

    page.goto("/?q=migration+and+development&year_from=2022&type=IDM+report")
    expect(page.locator("#filter-count")).to_have_text("(2 active)")
    expect(page.get_by_label("Published from (year)")).to_have_value("2022")
    expect(page.get_by_label("Document type")).to_have_value("IDM report")
    expect(page.locator("li.result").first).to_be_visible()
    metas = page.locator("li.result .meta").all_inner_texts()
    assert metas and all(m.startswith(("2022", "2023")) for m in metas)
    assert all("International Dialogue on Migration No." in m for m in metas)


def test_copy_citation_puts_a_parseable_citation_on_the_clipboard(page: Page) -> None:
    search(page, ANSWERABLE)
    page.get_by_label("Citation style").select_option("bibtex")
    button = page.locator("li.result").first.get_by_role("button", name="Copy citation")
    button.click()
    expect(button).to_have_attribute("data-copied", "true")
    copied = page.evaluate("navigator.clipboard.readText()")
    entry = bibtexparser.loads(copied).entries[0]
    assert entry["author"] == "{International Organization for Migration (IOM)}"

    page.locator("li.result").first.get_by_role("link", name="Open in context").click()
    page.wait_for_url("**/p/*")
    chicago = page.locator("#cite-chicago")
    page.locator(".citation").filter(has=chicago).get_by_role(
        "button", name="Copy citation"
    ).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == chicago.inner_text() and "International Organization for Migration" in copied
    page.get_by_role("button", name="Copy link").click()
    permalink = page.get_by_label("Permalink").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == permalink
    assert permalink == page.url.split("?")[0]


def test_no_confident_evidence_is_said_plainly(page: Page) -> None:
    search(page, OFF_CORPUS)
    notice = page.locator("#no-evidence")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("No confident evidence")
    expect(page.locator("#status")).to_contain_text("no confident evidence")
    expect(page.locator("li.result").first).to_be_visible()  # the closest passages, flagged


def test_results_export_as_csv_and_json(page: Page, tmp_path: Path) -> None:
    page.goto("/?q=remittances&k=5")
    expect(page.locator("li.result")).to_have_count(5)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "results.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(r["permalink"].endswith("/p/" + r["passage_id"]) and r["citation"] for r in rows)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download JSON").click()
    info.value.save_as(tmp_path / "results.json")
    body = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert body["question"] == "remittances" and len(body["results"]) == 5
    assert body["results"][0]["text"] and body["index_version"]


def test_keyboard_narrow_screen_and_escaping(page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    search(page, '<img src=x onerror="window.pwned=1"> remittances')
    expect(page.locator("#status")).to_contain_text("<img src=x")
    assert page.evaluate("window.pwned") is None
    assert page.locator("li.result img").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a narrow screen ({width}px)"
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Search"


def test_pages_are_served_without_a_browser_too(real_corpus_fake_index: Settings) -> None:
    assert sorted(LABELS) == sorted(FORMATS)
    with TestClient(create_app(real_corpus_fake_index)) as client:
        r = client.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert '<label for="q"' in r.text
        assert '<option value="precise" selected>' in r.text
        assert '<option value="fast" selected>' in client.get("/", params={"mode": "fast"}).text
        assert '<option value="precise" selected>' in client.get("/?mode=<b>").text
        r = client.get("/", params={"q": '"><script>alert(1)</script>'})
        assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in r.text
        assert client.get("/static/search.js").status_code == 200
        r = client.get("/p/<script>")
        assert r.status_code == 404 and "<script>" not in r.text
        assert not {"/", "/p/{passage_id}"} & set(client.get("/openapi.json").json()["paths"])


def test_marked_splits_text_at_valid_highlight_spans() -> None:
    assert marked("abcdef", "1-3,4-6") == [("a", False), ("bc", True), ("d", False), ("ef", True)]
    assert marked("abcdef", "") == [("abcdef", False)]
    assert marked("abcdef", "2-9,x-1,3-2,0-2,1-4") == [("ab", True), ("cdef", False)]
    assert marked("", "") == [("", False)]
