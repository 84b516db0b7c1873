"""The sentence-transformers model run by ONNX Runtime instead of torch.

torch spends most of a short question's encode time in Python and operator dispatch;
ONNX Runtime runs the same graph in a few milliseconds. The ONNX file is exported once
from the packaged weights into a local cache (no download), checked against torch on
probe sentences, and reused; `onnx-int8` adds dynamic per-channel int8 quantisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from ingest.packaged import onnx_session
from ingest.vectors import Vectors, normalise

# fp32 reproduces torch to rounding; int8 trades a little agreement for speed.
MIN_AGREEMENT = {"onnx": 0.9999, "onnx-int8": 0.98}
BACKENDS = tuple(MIN_AGREEMENT)
PROBES = (
    "How many Member States did the IOM Council have in 2018?",
    "Remittances sent home by migrant workers fell during the pandemic, and the "
    "Dialogue asked States to lower transfer costs below three per cent.",
    "GCM",
)


@dataclass(frozen=True)
class SentenceModelConfig:
    """What the ONNX path must reproduce of a sentence-transformers folder."""

    max_seq_length: int
    dimension: int


def read_model_config(path: Path) -> SentenceModelConfig:
    """Refuses folders whose pipeline is not Transformer → mean pooling → Normalize.

    Reads both layouts sentence-transformers writes: before version 6 (pooling flags,
    max_seq_length in sentence_bert_config.json) and since (one pooling mode, the length
    as the tokenizer's model_max_length), which is how a tuned model is saved.
    """
    try:
        modules = json.loads((path / "modules.json").read_text())
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((path / pooling_dir / "config.json").read_text())
        bert = json.loads((path / "sentence_bert_config.json").read_text())
        length = bert.get("max_seq_length") or _tokenizer_max_length(path)
        dimension = pooling.get("word_embedding_dimension", pooling.get("embedding_dimension"))
        if not length or not dimension:
            raise KeyError("max_seq_length" if not length else "embedding dimension")
    except (OSError, ValueError, StopIteration, KeyError) as exc:
        raise ModelError(f"{path} is not a sentence-transformers model folder: {exc}") from exc
    types = [m["type"].rsplit(".", 1)[-1] for m in modules]
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if isinstance(pooling.get("pooling_mode"), str):
        modes = [f"pooling_mode_{pooling['pooling_mode']}_tokens"]
    if types != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise ModelError(
            f"{path}: the onnx backends support Transformer → mean pooling → Normalize, "
            f"not {types} with {modes}; use the torch backend"
        )
    return SentenceModelConfig(max_seq_length=int(length), dimension=int(dimension))


def _tokenizer_max_length(path: Path) -> int | None:
    config = json.loads((path / "tokenizer_config.json").read_text())
    length = config.get("model_max_length")
    return int(length) if isinstance(length, int) else None


def mean_pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """Mean of the token vectors that are not padding, L2-normalised (as the ST pipeline)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    return normalise(summed / np.maximum(weights.sum(axis=1), 1e-9))


def cache_key(model_path: Path, backend: str) -> str:
    """Changes when the weights or any tool that shapes the exported graph changes."""
    digest = hashlib.sha256(backend.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        file = model_path / name
        if file.exists():
            with file.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def _export(model_path: Path, target: Path, backend: str) -> None:
    """torch → ONNX (→ int8), written beside `target` and renamed into place."""
    import torch
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.base(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 16), dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        fp32 = Path(scratch) / "model.onnx"
        # Tracing warns about shape-dependent branches; the mask is always given and the
        # export is checked against torch on probes of several lengths before use.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder(),
                (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                str(fp32),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        result = fp32
        if backend == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            result = Path(scratch) / "model-int8.onnx"
            quantize_dynamic(str(fp32), str(result), weight_type=QuantType.QInt8, per_channel=True)
        with result.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(result, target)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or any mean-pooled ST model) through ONNX Runtime."""

    def __init__(
        self, model_path: Path, name: str, backend: str, cache_dir: Path, threads: int = 0
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown onnx backend {backend!r}; use one of {', '.join(BACKENDS)}")
        from tokenizers import Tokenizer

        self._name = name
        self._config = read_model_config(model_path)
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        # The file's own settings pad everything to 128 and cut at 128; the model reads 256.
        self._tokenizer.enable_truncation(self._config.max_seq_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        file = cache_dir / f"{model_path.name}-{backend}-{cache_key(model_path, backend)}.onnx"
        fresh = not file.exists()
        if fresh:
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                _export(model_path, file, backend)
            except (OSError, ImportError, RuntimeError) as exc:
                raise ModelError(
                    f"could not export the model to ONNX in {cache_dir} ({exc}); point "
                    "IOMQA_MODEL_CACHE_DIR at a writable folder, or use the torch backend"
                ) from exc
        self._session = onnx_session(file, threads)
        if fresh:
            self._check_against_torch(model_path, backend, file)

    def _check_against_torch(self, model_path: Path, backend: str, file: Path) -> None:
        from sentence_transformers import SentenceTransformer

        reference = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        expected = reference.encode(list(PROBES), normalize_embeddings=True)
        agreement = float((self.encode(PROBES) * expected).sum(axis=1).min())
        if agreement < MIN_AGREEMENT[backend]:
            file.unlink(missing_ok=True)
            raise ModelError(
                f"the {backend} export of {model_path} disagrees with torch "
                f"(cosine {agreement:.4f} < {MIN_AGREEMENT[backend]}); use the torch backend"
            )

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._config.dimension

    @property
    def query_prefix(self) -> str:
        return ""

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        out = np.zeros((len(texts), self._config.dimension), dtype=np.float32)
        # Similar lengths together: padding is wasted work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            out[rows] = mean_pool(hidden, mask)
        return out
