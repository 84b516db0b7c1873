"""Fit the query adapter (`index.adapter`) on a question set's evidence.

For each answerable question, the passages holding its evidence are the positives and
every other passage of the served generation a negative. The correction D minimises the
contrastive loss of Oord et al. 2018 (InfoNCE: the softmax over all passages of the
adapted question's cosine, at temperature TEMPERATURE, should fall on the positives)
plus L2 × ‖D‖², which keeps D small so that it corrects only what many questions share.
Full-batch Adam from D = 0, so the same questions give the same adapter.

The figures behind TEMPERATURE, L2 and STEPS are in docs/experiments.md, row 95.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.settings import Settings
from index.adapter import ADAPTERS, QueryAdapter, save
from index.attribution import without_attribution
from index.searcher import Searcher
from iomqa.evaluation.harness import Question
from iomqa.evaluation.metrics import contains_evidence

TEMPERATURE = 0.05
L2 = 0.3
STEPS = 300
LEARNING_RATE = 1e-3


def fit_delta(
    questions: npt.NDArray[np.float32],
    passages: npt.NDArray[np.float32],
    positives: Sequence[Sequence[int]],
    *,
    l2: float = L2,
    temperature: float = TEMPERATURE,
    steps: int = STEPS,
) -> npt.NDArray[np.float32]:
    """D for unit question vectors (one row each) against unit passage vectors;
    `positives[i]` are the passage rows answering question i (questions without any are
    left out of the loss)."""
    import torch  # only here: every other command would pay for its import

    torch.manual_seed(0)
    q = torch.from_numpy(np.ascontiguousarray(questions, dtype=np.float32))
    p = torch.from_numpy(np.ascontiguousarray(passages, dtype=np.float32))
    wanted = torch.zeros(len(q), len(p), dtype=torch.bool)
    for i, rows in enumerate(positives):
        wanted[i, list(rows)] = True
    kept = wanted.any(dim=1)
    q, wanted = q[kept], wanted[kept]
    if not len(q):  # nothing to learn from: no correction
        return np.zeros((q.shape[1], q.shape[1]), dtype=np.float32)
    delta = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=LEARNING_RATE)
    for _ in range(steps):
        moved = q + q @ delta
        logits = (moved / moved.norm(dim=1, keepdim=True)) @ p.T / temperature
        # −log of the softmax mass on the positives, averaged over questions.
        on_positives = torch.logsumexp(logits.masked_fill(~wanted, -torch.inf), dim=1)
        loss = (torch.logsumexp(logits, dim=1) - on_positives).mean() + l2 * (delta**2).sum()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    fitted: npt.NDArray[np.float32] = delta.detach().numpy().astype(np.float32)
    return fitted


def mean_positive_rank(
    questions: npt.NDArray[np.float32],
    passages: npt.NDArray[np.float32],
    positives: Sequence[Sequence[int]],
) -> float:
    """Where the best positive passage ranks by cosine alone, averaged (1 is first)."""
    scores = questions @ passages.T
    ranks = [
        1 + int((row > row[list(rows)].max()).sum())
        for row, rows in zip(scores, positives, strict=True)
        if rows
    ]
    return float(np.mean(ranks)) if ranks else 0.0


def fitted_adapter(searcher: Searcher, questions: Sequence[Question], name: str) -> QueryAdapter:
    """The searcher's embedder's adapter fitted on these questions' evidence."""
    return _fitted(searcher.embedder.name, _evidence(searcher, questions), name)


def refit_adapter(settings: Settings, questions: Sequence[Question], name: str) -> str:
    """Fit the served embedder's adapter on these questions' evidence; write it into the
    index folder and report how far the evidence moved up."""
    searcher = Searcher.open_current(settings.index_dir, settings.model_source, adapt=False)
    try:
        evidence = _evidence(searcher, questions)
    finally:
        searcher.close()
    adapter = _fitted(searcher.embedder.name, evidence, name)
    path = save(adapter, settings.index_dir / ADAPTERS)
    vectors, passages, positives = evidence
    before = mean_positive_rank(vectors, passages, positives)
    after = mean_positive_rank(adapter.adapt(vectors), passages, positives)
    return (
        f"query adapter fitted on {adapter.fitted_on}: the evidence's mean passage rank by "
        f"cosine {before:.1f} -> {after:.1f} in sample -> {path}"
    )


# The answerable questions' vectors as embedded (unadapted), every passage's vector, and
# for each question the rows of the passages holding its evidence.
_Evidence = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], list[list[int]]]


def _fitted(embedder: str, evidence: _Evidence, name: str) -> QueryAdapter:
    vectors, passages, positives = evidence
    fitted_on = f"{name}, {sum(1 for p in positives if p)} questions with evidence"
    return QueryAdapter(embedder, fit_delta(vectors, passages, positives), fitted_on)


def _evidence(searcher: Searcher, questions: Sequence[Question]) -> _Evidence:
    answerable = [q for q in questions if q.evidence]
    embedder = searcher.embedder
    passages = searcher.passage_vectors()
    if not answerable:
        return np.zeros((0, embedder.dimension), dtype=np.float32), passages, []
    texts = searcher.passage_texts()
    asked = [embedder.query_prefix + without_attribution(q.question) for q in answerable]
    vectors = embedder.encode(asked).astype(np.float32).reshape(len(asked), embedder.dimension)
    positives = [
        [row for row, text in enumerate(texts) if contains_evidence(text, q.evidence or "")]
        for q in answerable
    ]
    return vectors, passages, positives
