"""Which embedding model a setting names, and where its weights come from.

Plain values shared by settings, ingest and index; loading a model is ingest's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Same vectors as torch to rounding (checked at export), in a third of the time per question.
DEFAULT_MODEL = f"{MODEL_NAME}@onnx"
HASHING_PREFIX = "hashing-"
# "<model>@<backend>"; a bare model name runs on torch.
BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class ModelSource:
    """Where model weights are read from and where derived model files are kept."""

    path: Path | None = None  # None: the packaged all-MiniLM-L6-v2
    cache_dir: Path = Path("var/models")


PACKAGED_MODEL = ModelSource()


def split_model_spec(model: str) -> tuple[str, str]:
    """ "name@onnx" -> ("name", "onnx"); a bare name runs on torch."""
    name, sep, backend = model.rpartition("@")
    if not sep:
        return model, "torch"
    if backend not in BACKENDS or not name:
        raise ValueError(
            f"model {model!r}: write NAME or NAME@BACKEND with BACKEND one of {', '.join(BACKENDS)}"
        )
    return name, backend
