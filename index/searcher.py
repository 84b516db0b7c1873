"""A verified index generation -> ranked, explained, highlighted passages for a question."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from core.errors import IndexCorrupt
from core.models import PACKAGED_MODEL, ModelSource
from core.records import (
    Document,
    DocumentInfo,
    Filters,
    Hit,
    Located,
    Mode,
    Passage,
    SearchResult,
    Signals,
    Stages,
    Why,
)
from index import dense
from index.adapter import ADAPTERS, PACKAGED_ADAPTERS, QueryAdapter, adapter_for
from index.asked import absent_numbers, answer_absent
from index.attribution import without_attribution
from index.confidence import (
    CALIBRATIONS,
    PACKAGED_CALIBRATIONS,
    Calibration,
    calibration_for,
    coverage,
    has_content,
)
from index.dedup import across_documents, group
from index.fusion import (
    Fused,
    add_bonuses,
    bm25_share,
    convex_fusion,
    multi_granularity,
    rerank_trust,
    with_bonus,
)
from index.generations import current_generation
from index.highlight import best_sentences, highlighted_text, matched_terms
from index.hints import (
    Bonus,
    Gazetteer,
    Hints,
    default_gazetteer,
    document_years,
    hint_bonus,
    read_hints,
)
from index.keyword import KEYWORD_DIR, KeywordIndex, name_words, query_tokens, tokenize
from index.manifest import Manifest, read_manifest, verify_files
from index.names import absent_names, multiword_names
from index.rerank import (
    DEPTH,
    TRUST_FLOOR,
    WHOLE_DEPTH,
    Reranker,
    cross_encoder_logits,
    reranked,
)
from index.store import STORE_NAME, Store
from ingest.chunk import sentence_spans
from ingest.embed import make_embedder
from ingest.vectors import Embedder

# Each retriever hands this many candidates (at least) to the fusion. One depth whatever k
# is: the fusion floors depend on it, and the first five results must not change when a
# client asks for fifty.
CANDIDATES = 100
# Share of BM25 in the fused score, from BM25_LOW for questions with weak keyword evidence
# (best BM25 score / the question's idf of at most WEAK_EVIDENCE) to BM25_HIGH for strong
# (STRONG_EVIDENCE and above), and of the whole-passage vector in the dense score;
# chosen on the development questions (README, "Retrieval quality").
BM25_LOW, BM25_HIGH = 0.05, 0.25
WEAK_EVIDENCE, STRONG_EVIDENCE = 0.1, 0.25
PASSAGE_WEIGHT = 0.5
# Candidates counted in the per-document facets.
FACET_DEPTH = 50
# Candidates searched for near-duplicates of the results shown.
DEDUP_DEPTH = 20
# Taken from the score of a passage repeated in another document (index.dedup.
# across_documents): enough to let a report's own text pass the boilerplate it shares with
# others when the two are close; chosen on the development questions (README).
SHARED_PENALTY = 0.05
SPARE_GROUPS = 10


@dataclass(frozen=True)
class _FirstStage:
    """The first stage's results and the evidence the confidence model reads from them."""

    hits: list[Hit]
    facets: dict[str, int]
    terms: list[str]
    idf: list[float]
    evidence: float  # the best BM25 score over the question's total idf
    bm25_hits: list[tuple[int, float]]
    dense_hits: list[tuple[int, float]]
    sentence_hits: list[tuple[int, float]]


class Searcher:
    """Everything the service reads, from one generation. Immutable once opened."""

    def __init__(
        self,
        generation: Path,
        manifest: Manifest,
        passages: faiss.Index,
        sentences: faiss.Index,
        owners: npt.NDArray[np.int64],
        keyword: KeywordIndex,
        store: Store,
        embedder: Embedder,
        calibrations: Mapping[Mode, Calibration],
        reranker: Reranker | None = None,
        adapter: QueryAdapter | None = None,
    ) -> None:
        self.generation = generation
        self.manifest = manifest
        self._passages = passages
        self._sentences = sentences
        self._owners = owners
        self._keyword = keyword
        self._store = store
        self._embedder = embedder
        self._calibrations = calibrations  # each mode's, fitted for its models
        self._reranker = reranker  # None: precise mode runs the first stage alone
        self._adapter = adapter  # None: questions searched as the embedder places them
        self._doc_rows: dict[str, npt.NDArray[np.int64]] = {}
        self._gazetteer: Gazetteer = default_gazetteer()
        self._doc_years = {d.doc_id: document_years(d.metadata) for d in store.documents()}
        self._years = frozenset().union(*self._doc_years.values())

    @classmethod
    def open(
        cls,
        generation: Path,
        embedder: Embedder,
        calibration: Calibration | None = None,
        reranker: Reranker | None = None,
        *,
        adapt: bool = True,
    ) -> Searcher:
        """Load a generation, refusing it loudly if anything disagrees with its manifest.
        With `adapt`, questions go through the query adapter fitted for the embedder, when
        there is one."""
        manifest = read_manifest(generation)
        verify_files(generation, manifest)
        _check_model(generation, manifest, embedder)
        adapter = _adapter(generation, embedder) if adapt else None
        passages, sentences, keyword, store = _load_artifacts(generation, manifest)
        owners = store.unit_owners()
        # Every disagreement at once, in one error: a damaged generation is diagnosed in
        # one reading, not one problem per attempt.
        problems = _disagreements(manifest, passages, sentences, owners, keyword, store)
        if problems:
            store.close()
            raise IndexCorrupt(f"{generation.name}: " + "; ".join(problems))
        return cls(
            generation,
            manifest,
            passages,
            sentences,
            owners,
            keyword,
            store,
            embedder,
            _calibrations(generation, embedder, reranker, calibration),
            reranker,
            adapter,
        )

    @classmethod
    def open_current(
        cls,
        index_dir: Path,
        source: ModelSource = PACKAGED_MODEL,
        reranker: Reranker | None = None,
        *,
        adapt: bool = True,
    ) -> Searcher:
        """Open the published generation with the embedder its manifest names."""
        generation = current_generation(index_dir)
        manifest = read_manifest(generation)
        embedder = make_embedder(manifest.model, source)
        return cls.open(generation, embedder, reranker=reranker, adapt=adapt)

    def close(self) -> None:
        self._store.close()

    @property
    def version(self) -> str:
        return self.manifest.index_version

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def adapter(self) -> QueryAdapter | None:
        return self._adapter

    def with_adapter(self, adapter: QueryAdapter | None) -> Searcher:
        """The same generation searched through another adapter (or none); it shares this
        searcher's files, so close only this one."""
        other = copy.copy(self)
        other._adapter = adapter
        return other

    def passage_vectors(self) -> npt.NDArray[np.float32]:
        """Every passage's vector, in row order."""
        return dense.vectors(self._passages)

    def passages_in_rows(self) -> list[Passage]:
        """Every passage, in row order."""
        rows = list(range(self._passages.ntotal))
        found = self._store.passages_by_rows(rows)
        return [found[row] for row in rows]

    def passage_texts(self) -> list[str]:
        """Every passage's text, in row order."""
        return [p.text for p in self.passages_in_rows()]

    @property
    def reranker(self) -> Reranker | None:
        return self._reranker

    def _allowed_rows(self, filters: Filters | None) -> npt.NDArray[np.int64] | None:
        if filters is None or filters == Filters():
            return None
        docs = [d.doc_id for d in self._store.documents() if filters.admits(d)]
        return np.array(sorted(self._store.rows_of_documents(docs)), dtype=np.int64)

    def search(
        self, question: str, k: int, filters: Filters | None = None, mode: Mode = Mode.PRECISE
    ) -> SearchResult:
        """Hybrid search: BM25 and multi-granularity dense evidence, fused, deduplicated and
        highlighted; in precise mode a cross-encoder re-reads the best candidates; then
        scored for confidence."""
        started = time.perf_counter()
        allowed = self._allowed_rows(filters)
        # The question is embedded without the words that say where to look ("according to
        # IOM's 2018 input", "the 2021 IDM recommendations"): averaged into its vector they
        # pull toward passages naming a report; keyword search and the year hints still read
        # them (docs/experiments.md, row 91).
        asked = without_attribution(question)
        query = self._embedder.encode([self._embedder.query_prefix + asked])[0]
        if self._adapter is not None:
            query = self._adapter.adapt(query)
        encoded = time.perf_counter()
        reranker = self._reranker if mode is Mode.PRECISE else None
        first = self._first_stage(question, query, max(k, DEPTH) if reranker else k, allowed)
        ranked = time.perf_counter()
        hits, signals = first.hits, self._signals(question, asked, first, k)
        trust = 0.0  # how much the cross-encoder's reading counts; nothing when it did not read
        if reranker is not None and hits:
            logits = cross_encoder_logits(reranker, question, hits)
            # Less for paraphrases, which the cross-encoder ranks less reliably than
            # questions in the passage's words (docs/experiments.md, rows 73, 89, 91).
            trust = rerank_trust(
                first.evidence, floor=TRUST_FLOOR, weak=WEAK_EVIDENCE, strong=STRONG_EVIDENCE
            )
            hits = reranked(hits, logits, trust)
            signals = replace(signals, rerank=float(logits.max()))
        calibration = self._calibrations[Mode.PRECISE if reranker else Mode.FAST]
        confidence = calibration.confidence(signals) if has_content(first.terms) else 0.0
        return SearchResult(
            hits=hits[:k],
            confidence=confidence,
            answerable=confidence >= calibration.threshold,
            facets=first.facets,
            signals=signals,
            stages=Stages(
                mode=mode,
                encode_ms=1000 * (encoded - started),
                first_stage_ms=1000 * (ranked - encoded),
                rerank_ms=1000 * (time.perf_counter() - ranked) if reranker else 0.0,
                reranked=min(DEPTH, len(first.hits)) if reranker else 0,
                reranker=reranker.name if reranker else None,
                read_whole=min(WHOLE_DEPTH, len(first.hits)) if reranker else 0,
                rerank_weight=trust,
                adapted=self._adapter is not None,
            ),
        )

    def _first_stage(
        self,
        question: str,
        query: npt.NDArray[np.float32],
        depth: int,
        allowed: npt.NDArray[np.int64] | None,
    ) -> _FirstStage:
        """The best `depth` result groups by fused keyword and dense evidence."""
        dense_hits, sentence_hits = self._dense_hits(query, allowed)
        bm25_hits = self._bm25_hits(question, allowed)
        terms = query_tokens(question)
        idf = self._keyword.idf(terms)
        # How much of the question the best keyword match covers: the fusion and the
        # confidence model both read it.
        evidence = bm25_hits[0][1] / sum(idf) if bm25_hits and sum(idf) else 0.0
        alpha = bm25_share(
            evidence, low=BM25_LOW, high=BM25_HIGH, weak=WEAK_EVIDENCE, strong=STRONG_EVIDENCE
        )
        fused, passages = self._hinted(question, convex_fusion(bm25_hits, dense_hits, alpha=alpha))
        candidates = fused[: max(FACET_DEPTH, 3 * depth)]
        passages.update(
            self._store.passages_by_rows([f.row for f in candidates if f.row not in passages])
        )
        hits = [
            self._hit(rank, question, query, members, passages)
            for rank, members in enumerate(_result_groups(candidates, passages, depth), start=1)
        ]
        facets = _facets(candidates[:FACET_DEPTH], passages)
        return _FirstStage(hits, facets, terms, idf, evidence, bm25_hits, dense_hits, sentence_hits)

    def _dense_hits(
        self, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64] | None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Passages by whole-passage and best-sentence similarity, and the sentence hits."""
        allowed_units = None if allowed is None else np.flatnonzero(np.isin(self._owners, allowed))
        passage_hits = dense.search(self._passages, query, CANDIDATES, allowed)
        sentence_hits = dense.search(self._sentences, query, 4 * CANDIDATES, allowed_units)
        dense_hits = multi_granularity(
            passage_hits, sentence_hits, self._owners, passage_weight=PASSAGE_WEIGHT
        )
        return dense_hits, sentence_hits

    def _bm25_hits(
        self, question: str, allowed: npt.NDArray[np.int64] | None
    ) -> list[tuple[int, float]]:
        mask = None
        if allowed is not None:
            mask = np.zeros(self._keyword.size, dtype=bool)
            mask[allowed] = True
        rows, scores = self._keyword.search(question, CANDIDATES, mask)
        return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]

    def _hinted(self, question: str, fused: list[Fused]) -> tuple[list[Fused], dict[int, Passage]]:
        """The fused results re-scored with the question's hints, if it has any, and the
        passages read for that."""
        hints = read_hints(question, self._gazetteer)
        # "the 2030 Agenda" names no document: no passage to read for it.
        hints = replace(hints, years=hints.years & self._years)
        if not hints:
            return fused, {}
        passages = self._store.passages_by_rows([f.row for f in fused[:CANDIDATES]])
        return self._with_hints(fused, hints, passages), passages

    def _with_hints(
        self, fused: list[Fused], hints: Hints, passages: dict[int, Passage]
    ) -> list[Fused]:
        """The first CANDIDATES results (their passages read) re-scored with the question's
        hints, the rest left behind them: hints re-order what the retrievers found, they do
        not search."""
        head = fused[:CANDIDATES]
        bonuses: dict[int, Bonus] = {}
        for f in head:
            passage = passages[f.row]
            years = self._doc_years.get(passage.doc_id, frozenset())
            bonuses[f.row] = hint_bonus(hints, passage.text, years, self._gazetteer)
        return add_bonuses(head, bonuses) + fused[CANDIDATES:]

    def _document(self, passage: Passage) -> DocumentInfo:
        document = self._store.document(passage.doc_id)
        if document is None:
            raise IndexCorrupt(f"passage {passage.passage_id} names unknown document")
        return document

    def _hit(
        self,
        rank: int,
        question: str,
        query: npt.NDArray[np.float32],
        members: list[Fused],
        passages: dict[int, Passage],
    ) -> Hit:
        best = members[0]
        passage = passages[best.row]
        units = self._store.units_of(best.row)
        if units:
            vectors = np.vstack([self._sentences.reconstruct(u) for u, _, _ in units])
            similarities = (vectors @ query).tolist()
        else:
            similarities = []
        highlights = best_sentences(
            passage.text, [(s, e) for _, s, e in units], similarities, question
        )
        return Hit(
            rank=rank,
            score=best.fused,
            passage=passage,
            document=self._document(passage),
            why=Why(
                best.bm25_rank,
                best.bm25_score,
                best.dense_rank,
                best.dense_score,
                best.fused,
                best.bonus,
                best.hints,
            ),
            highlights=tuple(highlights),
            matched_terms=tuple(matched_terms(passage.text, question)),
            also_in=tuple(
                Located(passages[m.row], self._document(passages[m.row])) for m in members[1:]
            ),
        )

    def _signals(self, question: str, asked: str, first: _FirstStage, k: int) -> Signals:
        """What the confidence model reads, from the first stage's top `k`: its calibration
        holds whether or not a second stage re-orders them. `asked` is the question without
        its attribution: a year dating the source is no fact asked for."""
        hits, terms, idf = first.hits[:k], first.terms, first.idf
        bm25_hits, dense_hits, sentence_hits = (
            first.bm25_hits,
            first.dense_hits,
            first.sentence_hits,
        )
        top_terms = {t for h in hits[:3] for t in tokenize(h.passage.text)}
        absent = [w for w, t in zip(idf, terms, strict=True) if t not in top_terms]
        focus = 0.0
        for hit in hits[:3]:
            text = hit.passage.text
            for start, end in sentence_spans(text, 0, len(text)):
                words_here = set(tokenize(text[start:end]))
                focus = max(focus, coverage(idf, [t in words_here for t in terms]))
        top_bm25 = {row for row, _ in bm25_hits[:5]}
        top_dense = {row for row, _ in dense_hits[:5]}
        unknown = [
            t for w in name_words(question) for t in tokenize(w) if not self._keyword.knows(t)
        ]
        unmentioned = absent_names(multiword_names(question), [_named_text(h) for h in hits[:3]])
        lead_passage = _named_text(hits[0]) if hits else ""
        lead_highlights = highlighted_text(hits[0].passage.text, hits[0].highlights) if hits else ""
        return Signals(
            absent_number=1.0 if absent_numbers(asked, lead_passage) else 0.0,
            answer_absent=1.0 if hits and answer_absent(asked, lead_highlights) else 0.0,
            unknown_name=1.0 if unknown else 0.0,
            absent_name=1.0 if unmentioned else 0.0,
            focus=focus,
            lead=hits[0].score - hits[min(4, len(hits) - 1)].score if hits else 0.0,
            agreement=len(top_bm25 & top_dense) / 5,
            margin=dense_hits[0][1] - dense_hits[min(4, len(dense_hits) - 1)][1]
            if dense_hits
            else 0.0,
            missing=max(absent, default=0.0) / self._keyword.max_idf,
            dense=dense_hits[0][1] if dense_hits else 0.0,
            sentence=sentence_hits[0][1] if sentence_hits else 0.0,
            bm25=first.evidence,
            coverage=coverage(idf, [t in top_terms for t in terms]),
        )

    def documents(self) -> list[DocumentInfo]:
        return self._store.documents()

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self._store.document(doc_id)

    def load_document(self, doc_id: str) -> Document | None:
        """A document whole (headings and pages included), as it was ingested."""
        return self._store.load_document(doc_id)

    def document_text(self, doc_id: str) -> str | None:
        return self._store.document_text(doc_id)

    def passage(self, passage_id: str) -> Passage | None:
        return self._store.passage(passage_id)

    def neighbours(self, passage: Passage) -> tuple[Passage | None, Passage | None]:
        before = self._store.passage_at(passage.doc_id, passage.ordinal - 1)
        after = self._store.passage_at(passage.doc_id, passage.ordinal + 1)
        return before, after

    def passages_of(self, doc_id: str) -> list[Passage]:
        return self._store.passages_of(doc_id)


def _named_text(hit: Hit) -> str:
    """Where a passage can mention a name: its text, its headings, its document's title."""
    return " | ".join((hit.passage.text, *hit.passage.section, hit.document.metadata.title))


def _calibrations(
    generation: Path, embedder: Embedder, reranker: Reranker | None, given: Calibration | None
) -> dict[Mode, Calibration]:
    """Each mode's calibration for these models: the operator's (index folder) before the
    shipped ones; `given` overrides both."""
    folders = [generation.parent.parent / CALIBRATIONS, PACKAGED_CALIBRATIONS]
    fast = given or calibration_for(folders, embedder.name, None)
    precise = given or (
        calibration_for(folders, embedder.name, reranker.name) if reranker else fast
    )
    return {Mode.FAST: fast, Mode.PRECISE: precise}


def _adapter(generation: Path, embedder: Embedder) -> QueryAdapter | None:
    """The embedder's query adapter: the operator's (index folder) before the shipped one."""
    folders = [generation.parent.parent / ADAPTERS, PACKAGED_ADAPTERS]
    return adapter_for(folders, embedder.name, embedder.dimension)


def _check_model(generation: Path, manifest: Manifest, embedder: Embedder) -> None:
    """Questions must be embedded by the model the passages were embedded with: the
    vectors of two models are not comparable, and a search would return noise quietly."""
    if manifest.model == embedder.name and manifest.dimension == embedder.dimension:
        return
    raise IndexCorrupt(
        f"{generation.name}: built with model {manifest.model!r} "
        f"(dimension {manifest.dimension}), but questions would be embedded with "
        f"{embedder.name!r} (dimension {embedder.dimension}), the configured model "
        f"(IOMQA_MODEL). Re-embed the corpus with it (`iomqa ingest --rebuild`), or set "
        f"IOMQA_MODEL={manifest.model} to serve this index as built"
    )


def _load_artifacts(
    generation: Path, manifest: Manifest
) -> tuple[faiss.Index, faiss.Index, KeywordIndex, Store]:
    """Passage and sentence vector indexes, keyword index and store of a generation."""
    try:
        passages = dense.load(
            generation / dense.DENSE_NAME,
            dense.DenseSpec.from_dict(manifest.dense.get("passages")),
        )
        sentences = dense.load(
            generation / dense.UNITS_NAME,
            dense.DenseSpec.from_dict(manifest.dense.get("sentences")),
        )
        keyword = KeywordIndex.load(generation / KEYWORD_DIR)
        store = Store(generation / STORE_NAME)
    except Exception as exc:  # any unreadable artifact means the generation is unusable
        raise IndexCorrupt(f"{generation.name}: cannot load: {exc}") from exc
    return passages, sentences, keyword, store


def _disagreements(
    manifest: Manifest,
    passages: faiss.Index,
    sentences: faiss.Index,
    owners: npt.NDArray[np.int64],
    keyword: KeywordIndex,
    store: Store,
) -> list[str]:
    """Every way the loaded artifacts disagree with the manifest or with each other."""
    problems = []
    for name, index in (("passage", passages), ("sentence", sentences)):
        if index.d != manifest.dimension:
            problems.append(f"{name} vector dimension {index.d} != {manifest.dimension}")
    if passages.ntotal != manifest.passages:
        problems.append(f"{passages.ntotal} vectors != {manifest.passages} passages")
    if sentences.ntotal != len(owners):
        problems.append(f"{sentences.ntotal} sentence vectors != {len(owners)} sentences")
    stored = store.count_passages()
    if stored != manifest.passages or keyword.size != manifest.passages:
        problems.append(f"{stored} stored / {keyword.size} keyword passages != {manifest.passages}")
    if len(store.documents()) != manifest.documents:
        problems.append(f"{len(store.documents())} documents != {manifest.documents}")
    return problems


def _facets(candidates: Sequence[Fused], passages: Mapping[int, Passage]) -> dict[str, int]:
    """Candidates per document, most first."""
    facets: dict[str, int] = {}
    for f in candidates:
        doc_id = passages[f.row].doc_id
        facets[doc_id] = facets.get(doc_id, 0) + 1
    return dict(sorted(facets.items(), key=lambda item: (-item[1], item[0])))


def _result_groups(
    candidates: list[Fused], passages: Mapping[int, Passage], k: int
) -> list[list[Fused]]:
    """The first k groups of near-duplicates, each led by its best-ranked member."""
    pool = candidates[: max(DEDUP_DEPTH, 3 * k)]
    # A group spanning documents is boilerplate and loses SHARED_PENALTY, all its members
    # alike. The spare groups stand in for those that drop out of the first k.
    groups = group([passages[f.row].text for f in pool], limit=k + SPARE_GROUPS)
    penalty = Bonus(-SHARED_PENALTY, ("repeated in another document",))
    for i in across_documents(groups, [passages[f.row].doc_id for f in pool]):
        pool[i] = with_bonus(pool[i], penalty)
    groups = sorted(groups, key=lambda members: -pool[members[0]].fused)[:k]
    return [[pool[i] for i in members] for members in groups]
