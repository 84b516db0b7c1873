"""Packaged ONNX models: their files found and checked, sessions and tokenizers set up.

The files are found through the distribution's metadata rather than by importing the
package, so none of the carrying package's code runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from core.models import PackagedModel
from core.settings import model_threads

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

Batch = dict[str, npt.NDArray[np.int64]]
_CHUNK = 1 << 20


def packaged_folder(model: PackagedModel) -> Path:
    """The folder holding `model`'s files, each checked against its pinned sha256."""
    pin = f"{model.distribution}=={model.version}"
    try:
        distribution = metadata.distribution(model.distribution)
    except metadata.PackageNotFoundError as exc:
        raise ModelError(f"{model.model_id} ships in {pin}, which is not installed") from exc
    if distribution.version != model.version:
        raise ModelError(
            f"{model.model_id} was checked in {pin}; installed: {distribution.version}"
        )
    folder = Path(str(distribution.locate_file(model.folder)))
    for file in model.files:
        check_sha256(folder / file.name, file.sha256, model.model_id)
    return folder


def check_sha256(path: Path, expected: str, model_id: str) -> None:
    if not path.is_file():
        raise ModelError(f"{model_id}: {path} is missing")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ModelError(
            f"{model_id}: {path} has sha256 {digest.hexdigest()}, expected {expected}; "
            "reinstall the package (pip install --force-reinstall) rather than load it"
        )


def onnx_session(path: Path, threads: int = 0) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or model_threads()
    options.inter_op_num_threads = 1
    # Spinning workers keep a core busy between requests; on a small machine that core
    # is the one the next request's HTTP and search work needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def unpadded_tokenizer(path: Path, max_tokens: int, *, pairs: bool) -> tokenizers.Tokenizer:
    """The tokenizer without the file's own padding (the packaged files pad every input
    to 512 tokens, five times the work for a short passage); batches are padded to
    their longest member instead."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    # A (question, passage) pair loses tokens from the passage, never from the question.
    tokenizer.enable_truncation(max_tokens, strategy="only_second" if pairs else "longest_first")
    return tokenizer


def padded_batch(encodings: Sequence[tokenizers.Encoding]) -> Batch:
    """BERT inputs for a batch, padded to its longest member."""
    width = max((len(e.ids) for e in encodings), default=0)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        n = len(encoding.ids)
        ids[row, :n] = encoding.ids
        mask[row, :n] = encoding.attention_mask
        types[row, :n] = encoding.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
