"""Fit the confidence model on a question set and report how well it separates."""

from __future__ import annotations

from collections.abc import Sequence

from core.records import Signals
from core.settings import Settings
from index.confidence import default_calibration, fit, save
from index.searcher import Searcher
from iomqa.evaluation.harness import UNANSWERABLE, Question
from iomqa.evaluation.metrics import auroc


def _auroc(calibration_signals: Sequence[tuple[Signals, bool]], model: object) -> float:
    scores = [(model.confidence(s), y) for s, y in calibration_signals]  # type: ignore[attr-defined]
    return auroc([c for c, y in scores if y], [c for c, y in scores if not y])


def refit(settings: Settings, questions: Sequence[Question], name: str) -> str:
    """Fit on all questions; report in-sample and two-fold cross-validated AUROC."""
    searcher = Searcher.open_current(settings.index_dir, settings.model_source)
    data = [(searcher.search(q.question, 10).signals, q.kind != UNANSWERABLE) for q in questions]
    folds = [data[0::2], data[1::2]]
    held_out = [
        _auroc(folds[1 - i], fit([s for s, _ in folds[i]], [y for _, y in folds[i]]))
        for i in range(2)
    ]
    model = fit([s for s, _ in data], [y for _, y in data])
    save(model, f"{name}, {len(data)} questions ({sum(y for _, y in data)} answerable)")
    default_calibration.cache_clear()
    return (
        f"confidence model refitted on {len(data)} questions: AUROC {_auroc(data, model):.3f} "
        f"in sample, {sum(held_out) / 2:.3f} two-fold cross-validated"
    )
