"""Records as the API shows them: pure conversions from core records to response schemas."""

from __future__ import annotations

from core.records import DocumentInfo, Filters, Hit, Passage, SearchResult, Stages
from service.citations import cite
from service.schemas import (
    AskFilters,
    AskResponse,
    CitationOut,
    DocumentOut,
    FacetOut,
    HighlightOut,
    LocationOut,
    PassageDetail,
    PassageOut,
    StagesOut,
    WhyOut,
)


def citation_out(document: DocumentInfo, passage: Passage) -> CitationOut:
    return CitationOut(**cite(document, passage).__dict__)


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 4)


def passage_out(hit: Hit) -> PassageOut:
    p = hit.passage
    w = hit.why
    return PassageOut(
        rank=hit.rank,
        score=round(hit.score, 4),
        passage_id=p.passage_id,
        text=p.text,
        citation=citation_out(hit.document, p),
        highlights=[
            HighlightOut(
                start=h.start,
                end=h.end,
                doc_start=p.char_start + h.start,
                doc_end=p.char_start + h.end,
                text=p.text[h.start : h.end],
            )
            for h in hit.highlights
        ],
        matched_terms=list(hit.matched_terms),
        why=WhyOut(
            bm25_rank=w.bm25_rank,
            bm25_score=_rounded(w.bm25_score),
            dense_rank=w.dense_rank,
            dense_score=_rounded(w.dense_score),
            fused=round(w.fused, 4),
            bonus=round(w.bonus, 4),
            hints=list(w.hints),
            rerank_score=_rounded(w.rerank_score),
            rerank_rank=w.rerank_rank,
        ),
        also_in=[
            LocationOut(
                passage_id=a.passage.passage_id, citation=citation_out(a.document, a.passage)
            )
            for a in hit.also_in
        ],
    )


def stages_out(stages: Stages, total_ms: float, *, cached: bool) -> StagesOut:
    return StagesOut(
        mode=stages.mode,
        reranked=stages.reranked,
        reranker=stages.reranker,
        read_whole=stages.read_whole,
        rerank_weight=round(stages.rerank_weight, 3),
        adapted=stages.adapted,
        encode_ms=round(stages.encode_ms, 2),
        first_stage_ms=round(stages.first_stage_ms, 2),
        rerank_ms=round(stages.rerank_ms, 2),
        total_ms=round(total_ms, 2),
        cached=cached,
    )


def ask_response(
    question: str,
    index_version: str,
    took_ms: float,
    result: SearchResult,
    titles: dict[str, str],
    *,
    cached: bool = False,
) -> AskResponse:
    """The answer to a question; `titles` names the documents of the facets."""
    return AskResponse(
        question=question,
        index_version=index_version,
        took_ms=round(took_ms, 2),
        answerable=result.answerable,
        confidence=round(result.confidence, 4),
        passages=[passage_out(h) for h in result.hits],
        facets=[
            FacetOut(doc_id=d, title=titles.get(d, d), hits=n) for d, n in result.facets.items()
        ],
        stages=stages_out(result.stages, took_ms, cached=cached),
    )


def search_filters(filters: AskFilters | None) -> Filters | None:
    if filters is None:
        return None
    return Filters(
        doc_ids=frozenset(filters.doc_ids) if filters.doc_ids is not None else None,
        year_from=filters.year_from,
        year_to=filters.year_to,
        types=frozenset(filters.type) if filters.type is not None else None,
    )


def passage_detail(
    index_version: str,
    passage: Passage,
    document: DocumentInfo,
    neighbours: tuple[Passage | None, Passage | None],
) -> PassageDetail:
    before, after = neighbours
    return PassageDetail(
        passage_id=passage.passage_id,
        index_version=index_version,
        text=passage.text,
        citation=citation_out(document, passage),
        previous_passage_id=before.passage_id if before else None,
        next_passage_id=after.passage_id if after else None,
    )


def document_out(d: DocumentInfo) -> DocumentOut:
    m = d.metadata
    return DocumentOut(
        doc_id=d.doc_id,
        source=d.source,
        kind=d.kind,
        title=m.title,
        year=m.year,
        series=m.series,
        number=m.number,
        publisher=m.publisher,
        type=m.type,
        isbn=m.isbn,
        event=m.event,
        author=m.author,
        pages=d.pages,
        passages=d.passages,
        content_hash=d.content_hash,
    )
