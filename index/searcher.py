"""A verified index generation -> ranked passages for a question."""

from __future__ import annotations

from pathlib import Path

import faiss

from index import dense
from index.fusion import reciprocal_rank_fusion
from index.generations import current_generation
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.manifest import Manifest, read_manifest, verify_files
from index.store import STORE_NAME, Store
from ingest.embed import Embedder, make_embedder
from iomqa.errors import IndexCorrupt
from iomqa.records import DocumentInfo, Hit, Passage, Why

# Each retriever contributes this many candidates (at least) to the fusion.
CANDIDATES = 50


class Searcher:
    """Everything the service reads, from one generation. Immutable once opened."""

    def __init__(
        self,
        generation: Path,
        manifest: Manifest,
        index: faiss.Index,
        keyword: KeywordIndex,
        store: Store,
        embedder: Embedder,
    ) -> None:
        self.generation = generation
        self.manifest = manifest
        self._index = index
        self._keyword = keyword
        self._store = store
        self._embedder = embedder

    @classmethod
    def open(cls, generation: Path, embedder: Embedder) -> Searcher:
        """Load a generation, refusing it loudly if anything disagrees with its manifest."""
        manifest = read_manifest(generation)
        verify_files(generation, manifest)
        if manifest.model != embedder.name:
            raise IndexCorrupt(
                f"{generation.name}: built with model {manifest.model!r}, "
                f"but the service embeds questions with {embedder.name!r}"
            )
        if manifest.dimension != embedder.dimension:
            raise IndexCorrupt(
                f"{generation.name}: manifest dimension {manifest.dimension} != model "
                f"dimension {embedder.dimension}"
            )
        index = dense.load(generation / dense.DENSE_NAME)
        keyword = KeywordIndex.load(generation / KEYWORD_DIR)
        store = Store(generation / STORE_NAME)
        problems = []
        if index.d != manifest.dimension:
            problems.append(f"vector dimension {index.d} != {manifest.dimension}")
        if index.ntotal != manifest.passages:
            problems.append(f"{index.ntotal} vectors != {manifest.passages} passages")
        stored = store.count_passages()
        if stored != manifest.passages:
            problems.append(f"{stored} stored passages != {manifest.passages}")
        if len(store.documents()) != manifest.documents:
            problems.append(f"{len(store.documents())} documents != {manifest.documents}")
        if problems:
            store.close()
            raise IndexCorrupt(f"{generation.name}: " + "; ".join(problems))
        return cls(generation, manifest, index, keyword, store, embedder)

    def close(self) -> None:
        self._store.close()

    @property
    def version(self) -> str:
        return self.manifest.index_version

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def search(self, question: str, k: int) -> list[Hit]:
        """Hybrid search: BM25 and dense candidates fused by reciprocal rank."""
        depth = max(CANDIDATES, 4 * k)
        scores, rows = dense.search(self._index, self._embedder.encode([question]), depth)
        dense_hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        kw_rows, kw_scores = self._keyword.search(question, depth)
        bm25_hits = [(int(r), float(s)) for r, s in zip(kw_rows, kw_scores, strict=True)]
        fused = reciprocal_rank_fusion(bm25_hits, dense_hits)[:k]
        passages = self._store.passages_by_rows([f.row for f in fused])
        hits: list[Hit] = []
        for f in fused:
            passage = passages[f.row]
            document = self._store.document(passage.doc_id)
            if document is None:
                raise IndexCorrupt(f"passage {passage.passage_id} names unknown document")
            why = Why(f.bm25_rank, f.bm25_score, f.dense_rank, f.dense_score, f.fused)
            hits.append(Hit(len(hits) + 1, f.fused, passage, document, why))
        return hits

    def documents(self) -> list[DocumentInfo]:
        return self._store.documents()

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self._store.document(doc_id)

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

    @classmethod
    def open_current(cls, index_dir: Path, model_path: Path | None = None) -> Searcher:
        """Open the published generation with the embedder its manifest names."""
        generation = current_generation(index_dir)
        manifest = read_manifest(generation)
        return cls.open(generation, make_embedder(manifest.model, model_path))
