"""A linear map that moves question vectors toward the passages answering them.

Questions and the reports' prose are written differently ("How much do migrants send
home?" against "remittance flows reached …"), and a general-purpose embedder places them
further apart than their meaning warrants. The adapter is `q + q·D`, renormalised: a
384 × 384 correction D fitted on development questions and their evidence passages,
pulled toward zero so that it only corrects what many questions agree on (fitting lives
in `iomqa.evaluation.adapt`; docs/experiments.md, row 95). Passage vectors are untouched,
so an adapter can be fitted, replaced or removed without re-embedding the corpus.

An adapter belongs to one embedder. Shipped adapters live in `adapters/` beside this
file; `iomqa eval --fit-adapter` writes the operator's own into the index folder, where
it takes precedence. Pure logic apart from `load`, `save` and `adapter_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import IndexCorrupt
from core.models import model_slug

PACKAGED_ADAPTERS = Path(__file__).with_name("adapters")
ADAPTERS = "adapters"  # the operator's, in the index folder


@dataclass(frozen=True)
class QueryAdapter:
    embedder: str  # the model whose question vectors it corrects
    delta: npt.NDArray[np.float32]  # D, dimension × dimension
    fitted_on: str = ""  # which questions, for the record

    @property
    def dimension(self) -> int:
        return int(self.delta.shape[0])

    def adapt(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """`v + v·D` for each row, at unit length again (cosine search expects it)."""
        moved = vectors + vectors @ self.delta
        norms = np.linalg.norm(moved, axis=-1, keepdims=True)
        # A zero row stays zero rather than turning into NaN.
        adapted: npt.NDArray[np.float32] = (moved / np.where(norms == 0, 1, norms)).astype(
            np.float32
        )
        return adapted


def file_name(embedder: str) -> str:
    """One file per embedder, named after it."""
    return model_slug(embedder) + ".npz"


def save(adapter: QueryAdapter, folder: Path) -> Path:
    """Written under its embedder's name (float16: half the size, and the correction is
    small beside the identity); returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(adapter.embedder)
    with path.open("wb") as out:
        np.savez_compressed(
            out,
            delta=adapter.delta.astype(np.float16),
            embedder=np.array(adapter.embedder),
            fitted_on=np.array(adapter.fitted_on),
        )
    return path


def load(path: Path, dimension: int) -> QueryAdapter:
    """The adapter in `path`, refused loudly when it is not one for `dimension`-wide vectors."""
    try:
        with np.load(path, allow_pickle=False) as data:
            delta = data["delta"].astype(np.float32)
            embedder, fitted_on = str(data["embedder"]), str(data["fitted_on"])
    except (OSError, KeyError, ValueError) as exc:
        raise IndexCorrupt(f"query adapter {path}: unreadable: {exc}") from exc
    if delta.shape != (dimension, dimension) or not np.isfinite(delta).all():
        raise IndexCorrupt(
            f"query adapter {path}: a {delta.shape} correction, but the embedder's vectors "
            f"have {dimension} dimensions; fit it again (`iomqa eval --fit-adapter`) or "
            "delete it"
        )
    return QueryAdapter(embedder, delta, fitted_on)


def adapter_for(folders: Sequence[Path], embedder: str, dimension: int) -> QueryAdapter | None:
    """The adapter fitted for this embedder, from the first folder that has one; None
    when there is none (other embedders, test models): questions are then used as
    embedded."""
    for folder in folders:
        path = folder / file_name(embedder)
        if path.is_file():
            return load(path, dimension)
    return None
