"""Is there confident evidence? A calibrated probability from a few retrieval signals.

The weights are a logistic regression fitted on the development questions for one pair
of models: the embedder a generation was built with, and the cross-encoder of precise
mode (or none, for fast mode). Confidence from other models' signals is not calibrated,
so a calibration names its models and is only used with them. Fitted calibrations ship
in `calibrations/` beside this file; `iomqa eval --calibrate` writes the operator's own
into the index folder, where they take precedence.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.models import DEFAULT_MODEL, model_slug
from core.records import Signals

log = logging.getLogger(__name__)

PACKAGED_CALIBRATIONS = Path(__file__).with_name("calibrations")
CALIBRATIONS = "calibrations"  # the operator's, in the index folder
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
    "absent_name",
    "absent_number",
    "answer_absent",
)
# Precise mode also reads how sure the cross-encoder is of its best candidate.
RERANK_FEATURES = (*FEATURES, "rerank")


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]  # one per feature read
    bias: float
    threshold: float = 0.5
    embedder: str = DEFAULT_MODEL  # the models whose signals it was fitted on
    reranker: str | None = None
    fitted_on: str = ""

    def confidence(self, signals: Signals) -> float:
        values = asdict(signals)
        z = self.bias + sum(weight * values[name] for name, weight in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))


def file_name(embedder: str, reranker: str | None) -> str:
    """One file per pair of models, named after them."""
    return model_slug(f"{embedder}--{reranker or 'fast'}") + ".json"


def load(path: Path) -> Calibration:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(
        weights={k: float(v) for k, v in data["weights"].items()},
        bias=float(data["bias"]),
        threshold=float(data.get("threshold", 0.5)),
        embedder=str(data["embedder"]),
        reranker=data.get("reranker"),
        fitted_on=str(data.get("fitted_on", "")),
    )


def find_calibration(
    folders: Sequence[Path], embedder: str, reranker: str | None
) -> Calibration | None:
    """The calibration fitted for these models, from the first folder that has one."""
    for folder in folders:
        path = folder / file_name(embedder, reranker)
        if path.is_file():
            return load(path)
    return None


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    """The shipped calibration of the default embedder in fast mode."""
    found = find_calibration([PACKAGED_CALIBRATIONS], DEFAULT_MODEL, None)
    if found is None:
        raise FileNotFoundError(f"no calibration for {DEFAULT_MODEL} in {PACKAGED_CALIBRATIONS}")
    return found


def calibration_for(folders: Sequence[Path], embedder: str, reranker: str | None) -> Calibration:
    """The calibration for these models; without one, the nearest that exists, said in
    the log: fast mode's for the same embedder, else the default embedder's."""
    exact = find_calibration(folders, embedder, reranker)
    if exact is not None:
        return exact
    nearest = find_calibration(folders, embedder, None) or default_calibration()
    log.warning(
        "no confidence calibration for %s with %s: using the one fitted for %s with %s; "
        "run `iomqa eval --calibrate` on the development set",
        embedder,
        reranker or "no reranker",
        nearest.embedder,
        nearest.reranker or "no reranker",
    )
    return nearest


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
    signals: Sequence[Signals],
    answerable: Sequence[bool],
    *,
    features: Sequence[str] = FEATURES,
    l2: float = 1.0,
    steps: int = 5000,
) -> Calibration:
    """L2-regularised logistic regression by gradient descent on standardised features,
    with classes weighted to balance answerable and unanswerable questions."""
    x = np.array([[asdict(s)[f] for f in features] for s in signals], dtype=np.float64)
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
    return Calibration({f: float(v) for f, v in zip(features, weights, strict=True)}, bias)


def save(calibration: Calibration, folder: Path) -> Path:
    """Written beside others under its models' name; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(calibration.embedder, calibration.reranker)
    path.write_text(json.dumps(asdict(calibration), indent=2) + "\n", encoding="utf-8")
    return path
