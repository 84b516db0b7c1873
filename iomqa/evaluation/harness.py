"""Run a retrieval system over the question set and score it."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iomqa.evaluation.metrics import (
    LEVEL,
    Summary,
    auroc,
    auroc_interval,
    first_hit,
    rank_intervals,
    summarise,
)

KINDS = ("number", "name", "term", "paraphrase")
UNANSWERABLE = "unanswerable"


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    doc_id: str | None
    evidence: str | None
    part: str | None


@dataclass(frozen=True)
class Answer:
    passages: list[str]
    confidence: float
    took_ms: float


Ask = Callable[[str, int], Answer]


@dataclass
class Report:
    system: str
    overall: Summary
    by_kind: dict[str, Summary]
    auroc: float
    latency_p50_ms: float
    latency_p95_ms: float
    ranks: dict[str, int | None] = field(default_factory=dict)
    # Confidence the system gave each answerable and each unanswerable question.
    answerable_confidence: list[float] = field(default_factory=list)
    unanswerable_confidence: list[float] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(Question(**json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question record: {exc}") from exc
    return questions


def question_union(paths: Sequence[Path]) -> list[Question]:
    """The questions of several sets, in order; an id in two of them is refused, since a
    question counted twice would weigh double in every figure."""
    questions = [q for path in paths for q in load_questions(path)]
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise ValueError(f"question id {q.id!r} appears twice in {', '.join(map(str, paths))}")
        seen.add(q.id)
    return questions


def evaluate(system: str, ask: Ask, questions: Sequence[Question], k: int = 10) -> Report:
    ranks: dict[str, int | None] = {}
    answerable_conf: list[float] = []
    unanswerable_conf: list[float] = []
    latencies: list[float] = []
    for q in questions:
        answer = ask(q.question, k)
        latencies.append(answer.took_ms)
        if q.kind == UNANSWERABLE or q.evidence is None:
            unanswerable_conf.append(answer.confidence)
            continue
        answerable_conf.append(answer.confidence)
        ranks[q.id] = first_hit(answer.passages[:k], q.evidence)
    kinds = {q.id: q.kind for q in questions}
    by_kind = {
        kind: summarise([r for qid, r in ranks.items() if kinds[qid] == kind]) for kind in KINDS
    }
    ordered = sorted(latencies) or [0.0]
    return Report(
        system=system,
        overall=summarise(list(ranks.values())),
        by_kind=by_kind,
        auroc=auroc(answerable_conf, unanswerable_conf),
        latency_p50_ms=statistics.median(ordered),
        latency_p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        ranks=ranks,
        answerable_confidence=answerable_conf,
        unanswerable_confidence=unanswerable_conf,
    )


def markdown_table(reports: Sequence[Report]) -> str:
    lines = [
        "| system | hit@1 | hit@5 | hit@10 | MRR@10 | nDCG@10 | abstention AUROC | p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        o = r.overall
        lines.append(
            f"| {r.system} | {o.hit1:.3f} | {o.hit5:.3f} | {o.hit10:.3f} | {o.mrr10:.3f} "
            f"| {o.ndcg10:.3f} | {r.auroc:.3f} | {r.latency_p50_ms:.1f} |"
        )
    return "\n".join(lines)


def kind_table(reports: Sequence[Report]) -> str:
    header = "| system | " + " | ".join(f"{k} hit@5 / MRR" for k in KINDS) + " |"
    lines = [header, "|---|" + "---|" * len(KINDS)]
    for r in reports:
        cells = [f"{r.by_kind[k].hit5:.3f} / {r.by_kind[k].mrr10:.3f}" for k in KINDS]
        lines.append(f"| {r.system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interval_table(reports: Sequence[Report]) -> str:
    """Each system's figures with their bootstrap intervals over the questions."""
    percent = round(100 * LEVEL)
    lines = [
        f"| system ({percent}% bootstrap intervals) | hit@1 | hit@5 | hit@10 | MRR@10 "
        "| abstention AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for r in reports:
        ranked = rank_intervals(list(r.ranks.values()))
        cells = [
            f"{ranked[name].low:.3f}–{ranked[name].high:.3f}" if name in ranked else "–"
            for name in ("hit1", "hit5", "hit10", "mrr10")
        ]
        separating = auroc_interval(r.answerable_confidence, r.unanswerable_confidence)
        cells.append(f"{separating.low:.3f}–{separating.high:.3f}" if separating else "–")
        lines.append(f"| {r.system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
