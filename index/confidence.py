"""Is there confident evidence? A calibrated probability from a few retrieval signals.

The weights are a logistic regression fitted on the development questions
(`iomqa eval --calibrate` rewrites calibration.json beside this file).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.records import Signals

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FEATURES = (
    "dense",
    "sentence",
    "bm25",
    "coverage",
    "missing",
    "agreement",
    "margin",
    "focus",
    "lead",
    "unknown_name",
)


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    bias: float
    threshold: float = 0.5

    def confidence(self, signals: Signals) -> float:
        values = asdict(signals)
        z = self.bias + sum(self.weights[name] * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return Calibration(
        weights={k: float(data["weights"][k]) for k in FEATURES},
        bias=float(data["bias"]),
        threshold=float(data.get("threshold", 0.5)),
    )


def has_content(terms: Sequence[str]) -> bool:
    """Whether a question names anything: a word of two or more letters or digits left
    after stop words and question framing ("what", "say", "according") are dropped.

    "the", "what is it?" or "a\u0000b" name nothing, so no passage can be confidently
    their answer, however the retrievers happen to score it.
    """
    return any(len(term) >= 2 for term in terms)


def coverage(query_idf: Sequence[float], found: Sequence[bool]) -> float:
    total = sum(query_idf)
    if total == 0:
        return 0.0
    return sum(w for w, hit in zip(query_idf, found, strict=True) if hit) / total


def fit(
    signals: Sequence[Signals], answerable: Sequence[bool], *, l2: float = 1.0, steps: int = 5000
) -> Calibration:
    """L2-regularised logistic regression by gradient descent on standardised features,
    with classes weighted to balance answerable and unanswerable questions."""
    x = np.array([[asdict(s)[f] for f in FEATURES] for s in signals], dtype=np.float64)
    y = np.array(answerable, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    pos = max(1.0, float(y.sum()))
    neg = max(1.0, float(len(y) - y.sum()))
    sample_weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    w = np.zeros(z.shape[1])
    b = 0.0
    rate = 0.1
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - y) * sample_weight
        w -= rate * (z.T @ g / len(y) + l2 * w / len(y))
        b -= rate * float(g.mean())
    weights: npt.NDArray[np.float64] = w / std
    bias = b - float((w * mean / std).sum())
    return Calibration({f: float(v) for f, v in zip(FEATURES, weights, strict=True)}, bias)


def save(calibration: Calibration, note: str, path: Path = CALIBRATION_FILE) -> None:
    data = {**asdict(calibration), "features": list(FEATURES), "fitted_on": note}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
