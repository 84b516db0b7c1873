"""Fit the confidence model on a question set and report how well it separates.

One calibration per mode, for the served generation's embedder and the configured
cross-encoder, written into the index folder (`calibrations/`), never over the shipped
ones: a calibration belongs to the models whose signals it was fitted on. With a query
adapter or the tuned embedder, every question's signals come from an adapter or a model
that did not learn from it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from core.models import TUNED_NAME, TUNED_RERANKER, split_model_spec
from core.records import Mode, Signals
from core.settings import Settings
from index.attribution import without_attribution
from index.build import BuildConfig, build_index
from index.confidence import CALIBRATIONS, FEATURES, RERANK_FEATURES, Calibration, fit, save
from index.generations import current_generation
from index.rerank import Reranker, load_reranker, tuned_cross_encoder
from index.searcher import Searcher
from ingest.embed import make_embedder
from ingest.tune import read_pairs, shipped_pairs, write_pairs
from ingest.tune_reranker import read_readings, shipped_readings, write_readings
from iomqa.evaluation.adapt import fitted_adapter
from iomqa.evaluation.harness import UNANSWERABLE, Question
from iomqa.evaluation.metrics import auroc

Labelled = list[tuple[Signals, bool]]


def _auroc(data: Labelled, model: Calibration) -> float:
    scores = [(model.confidence(s), y) for s, y in data]
    return auroc([c for c, y in scores if y], [c for c, y in scores if not y])


def _fitted(data: Labelled, features: Sequence[str]) -> tuple[Calibration, float]:
    """Fitted on all of `data`, with its two-fold cross-validated AUROC."""
    folds = [data[0::2], data[1::2]]
    held_out = [
        _auroc(
            folds[1 - i], fit([s for s, _ in folds[i]], [y for _, y in folds[i]], features=features)
        )
        for i in range(2)
    ]
    return fit([s for s, _ in data], [y for _, y in data], features=features), sum(held_out) / 2


def by_halves(
    questions: Sequence[Question],
    made_without: Callable[[Sequence[Question], Sequence[Question]], Searcher],
) -> list[Searcher]:
    """Who asks each question: the searcher made without its half (alternate questions;
    `made_without(half, other_half)`), so no question is asked through something that
    learned from it."""
    through = [made_without(questions[i::2], questions[1 - i :: 2]) for i in (0, 1)]
    return [through[i % 2] for i in range(len(questions))]


def cross_fitted_searchers(
    searcher: Searcher, questions: Sequence[Question], name: str
) -> list[Searcher]:
    """Who asks each question. With a query adapter, its fitting questions would look
    closer to their evidence than new questions do, and the confidence model would learn
    to expect it: so each half's questions are asked through an adapter fitted on the
    other half (the adapter is fitted on the same questions: `iomqa eval --fit-adapter
    --calibrate`)."""
    if searcher.adapter is None:
        return [searcher] * len(questions)
    half_name = f"{name}, half"

    def adapted_without(half: Sequence[Question], other: Sequence[Question]) -> Searcher:
        return searcher.with_adapter(fitted_adapter(searcher, other, half_name))

    return by_halves(questions, adapted_without)


def tuned_without(
    settings: Settings, half: Sequence[Question], scratch: Path, reranker: Reranker | None
) -> Searcher:
    """The corpus searched through the tuned embedder fitted without these questions'
    pairs: as new questions would meet it (docs/experiments.md, row 105)."""
    asked = {without_attribution(q.question) for q in half}
    pairs_file = scratch / "pairs.jsonl"
    write_pairs(pairs_file, [p for p in read_pairs(shipped_pairs()) if p.question not in asked])
    embedder = make_embedder(settings.model, settings.model_source, tuning_pairs=pairs_file)
    config = replace(BuildConfig.from_settings(settings), index_dir=scratch / "index")
    build_index(config, embedder)
    return Searcher.open(current_generation(config.index_dir), embedder, reranker=reranker)


def reranker_without(settings: Settings, half: Sequence[Question], scratch: Path) -> Reranker:
    """The cross-encoder tuned without these questions' readings (row 106's reason)."""
    asked = {without_attribution(q.question) for q in half}
    readings_file = scratch / "readings.jsonl"
    kept = [r for r in read_readings(shipped_readings()) if r.question not in asked]
    write_readings(readings_file, kept)
    return tuned_cross_encoder(settings.model_cache_dir, readings_file)


def _asking(
    settings: Settings, searcher: Searcher, questions: Sequence[Question], name: str, scratch: Path
) -> list[Searcher]:
    tuned_embedder = split_model_spec(searcher.embedder.name)[0] == TUNED_NAME
    tuned_reranker = searcher.reranker is not None and searcher.reranker.name == TUNED_RERANKER
    if not (tuned_embedder or tuned_reranker):
        return cross_fitted_searchers(searcher, questions, name)

    def tuned_without_half(half: Sequence[Question], other: Sequence[Question]) -> Searcher:
        folder = Path(tempfile.mkdtemp(dir=scratch))
        reranker = reranker_without(settings, half, folder) if tuned_reranker else searcher.reranker
        if tuned_embedder:
            return tuned_without(settings, half, folder, reranker)
        generation = current_generation(settings.index_dir)
        return Searcher.open(
            generation, searcher.embedder, reranker=reranker, adapt=settings.query_adapter
        )

    return by_halves(questions, tuned_without_half)


def refit(settings: Settings, questions: Sequence[Question], name: str) -> str:
    """Fit each mode on all questions; report in-sample and two-fold cross-validated AUROC."""
    reranker = load_reranker(settings.reranker, settings.model_cache_dir)
    searcher = Searcher.open_current(
        settings.index_dir, settings.model_source, reranker, adapt=settings.query_adapter
    )
    modes: list[tuple[Mode, Sequence[str], str | None]] = [(Mode.FAST, FEATURES, None)]
    if reranker is not None:
        modes.append((Mode.PRECISE, RERANK_FEATURES, reranker.name))
    lines = []
    with tempfile.TemporaryDirectory(prefix="iomqa-calibrate-") as scratch:
        asking = _asking(settings, searcher, questions, name, Path(scratch))
        for mode, features, reranker_name in modes:
            data = [
                (ask.search(q.question, 10, mode=mode).signals, q.kind != UNANSWERABLE)
                for ask, q in zip(asking, questions, strict=True)
            ]
            lines.append(_saved(settings, searcher, data, features, reranker_name, name, mode))
        for ask in {id(a): a for a in asking}.values():
            ask.close()
    return "\n".join(lines)


def _saved(
    settings: Settings,
    searcher: Searcher,
    data: Labelled,
    features: Sequence[str],
    reranker_name: str | None,
    name: str,
    mode: Mode,
) -> str:
    model, held_out = _fitted(data, features)
    note = f"{name}, {len(data)} questions ({sum(y for _, y in data)} answerable)"
    calibration = Calibration(
        model.weights,
        model.bias,
        embedder=searcher.embedder.name,
        reranker=reranker_name,
        fitted_on=note,
    )
    path = save(calibration, settings.index_dir / CALIBRATIONS)
    return (
        f"{mode.value}: refitted on {len(data)} questions, AUROC {_auroc(data, model):.3f} "
        f"in sample, {held_out:.3f} two-fold cross-validated -> {path}"
    )
