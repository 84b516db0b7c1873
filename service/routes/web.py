"""The researchers' web page: search at `/`, a passage in context at `/p/{passage_id}`.

Server-rendered with Jinja2 (autoescaped); the search page's results are drawn by
`static/search.js` from the JSON API. No build step.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from core.records import Mode
from service.citations import section_text
from service.deps import HolderDep
from service.export import FORMATS, Locator, export

HERE = Path(__file__).resolve().parent.parent  # templates/ and static/ sit in service/
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")

router = APIRouter(include_in_schema=False)

# Citation formats as the passage page lists them: the readable ones first.
LABELS = {
    "apa": "APA",
    "chicago": "Chicago",
    "bibtex": "BibTeX",
    "ris": "RIS",
    "csl-json": "CSL-JSON",
}


def marked(text: str, spans: str) -> list[tuple[str, bool]]:
    """Split `text` into (segment, highlighted) pieces from "start-end,start-end" offsets;
    malformed, overlapping or out-of-range spans are ignored."""
    ranges: list[tuple[int, int]] = []
    for part in spans.split(",")[:10]:
        first, sep, last = part.partition("-")
        if sep and first.isdigit() and last.isdigit() and int(first) < int(last) <= len(text):
            ranges.append((int(first), int(last)))
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(ranges):
        if start < at:
            continue
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text) or not pieces:
        pieces.append((text[at:], False))
    return pieces


def _error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "message": message},
        status_code=status,
    )


@router.get("/", response_class=HTMLResponse, name="search_page")
def search_page(request: Request, q: str = "", mode: str = "") -> HTMLResponse:
    """The search page; `/?q=...` (with optional filters and `mode`) runs the search on load."""
    # A page link with an unknown mode still opens the page, with the default selected.
    chosen = Mode(mode) if mode in {m.value for m in Mode} else Mode.PRECISE
    return templates.TemplateResponse(
        request, "search.html", {"formats": LABELS, "q": q, "modes": list(Mode), "mode": chosen}
    )


@router.get("/p/{passage_id}", response_class=HTMLResponse, name="passage_page")
def passage_page(request: Request, holder: HolderDep, passage_id: str, h: str = "") -> HTMLResponse:
    """One passage between its neighbours, with its citation and permalink; `h` marks the
    sentences a search highlighted (offsets within the passage: `?h=0-120,240-310`)."""
    # The page says what is wrong in HTML, so it reads the holder rather than SearcherDep.
    s = holder.current
    if s is None:
        return _error(request, 503, "Search is not available", "No index is loaded yet.")
    passage = s.passage(passage_id)
    document = s.document(passage.doc_id) if passage else None
    if passage is None or document is None:
        return _error(
            request,
            404,
            "Passage not found",
            f"There is no passage “{passage_id}” in the current index. "
            "Passage links stay valid while the passage's text is unchanged.",
        )
    before, after = s.neighbours(passage)
    where = Locator(passage.page, passage.page_label, passage.section)
    citations = {f: export(f, document.doc_id, document.metadata, where) for f in FORMATS}
    return templates.TemplateResponse(
        request,
        "passage.html",
        {
            "passage": passage,
            "pieces": marked(passage.text, h),
            "document": document,
            "section": section_text(passage.section),
            "before": before,
            "after": after,
            "citations": citations,
            "formats": list(LABELS.items()),
            "permalink": str(request.url_for("passage_page", passage_id=passage.passage_id)),
            "index_version": s.version,
        },
    )
