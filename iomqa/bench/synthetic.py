"""A synthetic generation of n passages made by perturbing the real ones.

Each synthetic passage copies a random real passage with the words of every sentence
shuffled and one word in ten replaced by a random corpus word; its passage and sentence
vectors are the real ones plus noise (cosine about 0.9 to the source), renormalised. The
model never runs over the synthetic texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.records import Document, Metadata, Passage
from index.build import GenerationInput, context_text
from index.store import Store
from index.vectorfile import VectorFile

NOISE = 0.5  # per-vector noise norm relative to a unit vector: cosine about 0.9
REPLACE = 0.1
PER_DOCUMENT = 1000
CHUNK = 20_000


@dataclass
class Source:
    """The real passages, their sentences and vectors."""

    passages: list[Passage]
    units: list[list[tuple[int, int]]]  # per passage: sentence spans
    first_unit: npt.NDArray[np.int64]  # per passage: row of its first sentence vector
    vectors: npt.NDArray[np.float32]
    unit_vectors: npt.NDArray[np.float32]

    @classmethod
    def read(
        cls, store: Store, vectors: npt.NDArray[np.float32], unit_vectors: npt.NDArray[np.float32]
    ) -> Source:
        rows = sorted(store.passages_by_rows(list(range(store.count_passages()))).items())
        passages = [p for _, p in rows]
        units, first = [], []
        for row, _ in rows:
            mine = store.units_of(row)
            first.append(mine[0][0] if mine else 0)
            units.append([(s, e) for _, s, e in mine])
        return cls(passages, units, np.array(first, dtype=np.int64), vectors, unit_vectors)


def perturb(
    text: str, spans: list[tuple[int, int]], words: list[str], rng: np.random.Generator
) -> tuple[str, list[tuple[int, int]]]:
    """Shuffled sentences of `text` and their new spans. Pure given the generator."""
    pieces: list[str] = []
    new_spans = []
    at = 0
    for start, end in spans:
        tokens = text[start:end].split()
        order = rng.permutation(len(tokens))
        shuffled = [tokens[i] for i in order]
        for i in np.flatnonzero(rng.random(len(shuffled)) < REPLACE).tolist():
            shuffled[i] = words[int(rng.integers(len(words)))]
        sentence = " ".join(shuffled) or "."
        new_spans.append((at, at + len(sentence)))
        pieces.append(sentence)
        at += len(sentence) + 1
    return " ".join(pieces), new_spans


def _noisy(rows: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    noise = rng.standard_normal(rows.shape).astype(np.float32) * (NOISE / np.sqrt(rows.shape[1]))
    out: npt.NDArray[np.float32] = rows + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def make(source: Source, n: int, folder: Path, model: str, seed: int = 7) -> GenerationInput:
    """Texts in memory, vectors in files under `folder`; the input of write_generation."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(source.passages), n)
    words = sorted({w for p in source.passages for w in p.text.split()})
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    for i in picks.tolist():
        text, new = perturb(source.passages[i].text, source.units[i], words, rng)
        texts.append(text)
        spans.append(new)
    counts = np.array([len(s) for s in spans], dtype=np.int64)
    documents = [
        Document(
            doc_id=f"syn-{d:05d}",
            source=f"synthetic/syn-{d:05d}.txt",
            content_hash=f"{d:064x}",
            kind="text",
            metadata=Metadata(title=f"Synthetic report {d}", year=2000 + d % 25),
            text="",
        )
        for d in range((n + PER_DOCUMENT - 1) // PER_DOCUMENT)
    ]
    dimension = source.vectors.shape[1]
    vectors = VectorFile.create(folder / "passages.f32", n, dimension)
    unit_vectors = VectorFile.create(folder / "sentences.f32", int(counts.sum()), dimension)
    unit_at = 0
    for start in range(0, n, CHUNK):
        part = picks[start : start + CHUNK]
        vectors.write(start, _noisy(source.vectors[part], rng))
        unit_rows = np.concatenate(
            [source.first_unit[p] + np.arange(len(source.units[p])) for p in part.tolist()]
        )
        vectors_here = _noisy(source.unit_vectors[unit_rows], rng)
        unit_vectors.write(unit_at, vectors_here)
        unit_at += len(vectors_here)

    def passages() -> Iterator[Passage]:
        for row, text in enumerate(texts):
            doc = row // PER_DOCUMENT
            yield Passage(
                passage_id=f"syn-{doc:05d}-{row % PER_DOCUMENT:04d}",
                doc_id=f"syn-{doc:05d}",
                ordinal=row % PER_DOCUMENT,
                text=text,
                char_start=0,
                char_end=len(text),
                section=(),
                page=None,
                page_label=None,
            )

    def units() -> Iterator[tuple[int, int, int]]:
        for row, mine in enumerate(spans):
            for start, end in mine:
                yield row, start, end

    def row_doc(p: Passage) -> int:
        return int(p.doc_id.removeprefix("syn-"))

    def keyword_texts() -> Iterator[str]:
        for p in passages():
            yield context_text(documents[row_doc(p)], p)

    return GenerationInput(
        model=model,
        dimension=dimension,
        documents=documents,
        passages=passages(),
        texts=keyword_texts(),
        vectors=vectors,
        units=units(),
        unit_vectors=unit_vectors,
        corpus={
            d.source: {"doc_id": d.doc_id, "sha256": d.content_hash, "fingerprint": d.doc_id}
            for d in documents
        },
    )
