"""The cross-encoder ms-marco-MiniLM-L-12-v2 fine-tuned on how it reads these reports.

Trained on web search (MS MARCO), the cross-encoder ranks a passage that shares the
question's topic close to the one that answers it. Fine-tuning on the development
questions (the texts it read for each, marked by whether they hold the evidence) teaches
it which reading answers; measured on questions it never saw in docs/experiments.md,
rows 106 and 107.

Only int8 weights ship (`core.models.MS_MARCO_RERANKER`), so the tuning starts from them
dequantised into a float model (within a quarter of a logit of the int8 model on the
probe), trains it, exports it to ONNX and quantises it to int8 again, one scale per weight
column (one scale per tensor would lose the gain: row 107). Like
the tuned embedder (`ingest.tune`), the result is derived, never downloaded: built once
into the model cache under a name that changes with the weights, the readings file, the
recipe and the tools that shape the graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from ingest.packaged import onnx_session, padded_batch, unpadded_tokenizer

log = logging.getLogger(__name__)

READINGS_FILE = Path(__file__).parent / "tuning" / "idm-readings.jsonl"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# The model card's check: the answer far above a passage on another capital.
PROBE = "What is the capital of France?"
PROBE_ANSWER = "Paris is the capital of France."
PROBE_OTHER = "Berlin is the capital of Germany."
MIN_PROBE_MARGIN = 4.0  # logits; the packaged model gives about 11


@dataclass(frozen=True)
class BertShape:
    """A BERT's dimensions; by default ms-marco-MiniLM-L-12-v2's (its config.json)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    layers: int = 12
    heads: int = 12
    intermediate_size: int = 1536
    positions: int = 512


CROSS_ENCODER_SHAPE = BertShape()


def shipped_readings() -> Path:
    """READINGS_FILE, looked up when asked (tests point it elsewhere)."""
    return READINGS_FILE


@dataclass(frozen=True)
class Reading:
    """Texts the cross-encoder read together for one question, at one length budget,
    each marked by whether it holds the evidence."""

    texts: tuple[str, ...]
    holds: tuple[bool, ...]
    max_tokens: int


@dataclass(frozen=True)
class QuestionReadings:
    """A question as the cross-encoder reads it, and what it read for it."""

    question: str
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class RerankTuneParams:
    """The fine-tuning recipe (docs/experiments.md, rows 106 and 115: two epochs at 2e-5
    rank better than one at 1e-5, on held-out and on later-written questions alike)."""

    epochs: int = 2
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    seed: int = 0


def read_readings(path: Path) -> list[QuestionReadings]:
    """One JSON object per line: question, readings [{texts, holds, max_tokens}]."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(_question_readings(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{path}:{number}: a line needs question and readings, each reading texts, "
                f"holds (one per text) and max_tokens ({exc})"
            ) from exc
    if not found:
        raise ModelError(f"{path}: no readings to tune on")
    return found


def _question_readings(row: dict[str, Any]) -> QuestionReadings:
    readings = []
    for r in row["readings"]:
        texts, holds = tuple(map(str, r["texts"])), tuple(map(bool, r["holds"]))
        if len(texts) != len(holds):
            raise ValueError(f"{len(texts)} texts but {len(holds)} holds")
        readings.append(Reading(texts, holds, int(r["max_tokens"])))
    return QuestionReadings(str(row["question"]), tuple(readings))


def write_readings(path: Path, found: Sequence[QuestionReadings]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(asdict(q)) for q in found)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def listwise_loss(logits: Any, holds: Sequence[bool]) -> Any:
    """−log of the softmax mass on the texts that hold the evidence (ListNet-style, Cao
    et al. 2007, with every answering text a target); None when the reading teaches
    nothing: all of its texts answer, or none does."""
    import torch

    wanted = torch.tensor(holds, dtype=torch.bool)
    if not wanted.any() or wanted.all():
        return None
    return torch.logsumexp(logits, 0) - torch.logsumexp(logits[wanted], 0)


def tuned_reranker_folder(
    cache_dir: Path, base: Path, readings_file: Path, params: RerankTuneParams
) -> Path:
    """Where the cross-encoder tuned from these inputs lives: named after all of them."""
    digest = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode())
    for file in (readings_file, base / MODEL_FILE, base / TOKENIZER_FILE):
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    return cache_dir / f"ms-marco-MiniLM-L-12-v2-tuned-{digest.hexdigest()[:16]}"


def tuned_reranker(
    cache_dir: Path,
    base: Path,
    readings_file: Path | None = None,
    params: RerankTuneParams = RerankTuneParams(),
    shape: BertShape = CROSS_ENCODER_SHAPE,
) -> Path:
    """The tuned cross-encoder's folder (model.onnx, tokenizer.json), fine-tuned first if
    it is not in the cache yet; from the shipped readings unless told otherwise."""
    readings_file = readings_file or shipped_readings()
    target = tuned_reranker_folder(cache_dir, base, readings_file, params)
    if not (target / MODEL_FILE).exists():
        found = read_readings(readings_file)
        # A warning so that the command line shows it: minutes pass without other output.
        log.warning(
            "tuning the cross-encoder on %d questions' readings into %s (once; minutes)",
            len(found),
            target,
        )
        tune_reranker(base, found, target, params, shape)
    return target


def tune_reranker(
    base: Path,
    found: Sequence[QuestionReadings],
    target: Path,
    params: RerankTuneParams,
    shape: BertShape = CROSS_ENCODER_SHAPE,
) -> None:
    """Fine-tune the int8 cross-encoder at `base` (a BERT of this `shape`), quantise it
    again, check it on the probe and publish it at `target` atomically (written beside
    it, then renamed)."""
    model = _trained(base, found, params, shape)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        scratch.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users
        _export_int8(model, scratch / MODEL_FILE)
        shutil.copyfile(base / TOKENIZER_FILE, scratch / TOKENIZER_FILE)
        check_probe(scratch)
        try:
            os.replace(scratch, target)
        except OSError:  # another process published the same model first
            if not (target / MODEL_FILE).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe_logits(folder: Path) -> tuple[float, float]:
    """The ONNX cross-encoder in `folder` on the probe: (answer, other capital)."""
    tokenizer = unpadded_tokenizer(folder / TOKENIZER_FILE, 64, pairs=True)
    session = onnx_session(folder / MODEL_FILE, threads=1)
    answer, other = (
        float(session.run(None, dict(padded_batch([tokenizer.encode(PROBE, text)])))[0][0, 0])
        for text in (PROBE_ANSWER, PROBE_OTHER)
    )
    return answer, other


def check_probe(folder: Path) -> None:
    """Refuses a tuning that forgot what relevance is (a broken export or a diverged run)."""
    answer, other = probe_logits(folder)
    if not answer - other >= MIN_PROBE_MARGIN:
        raise ModelError(
            f"the tuned cross-encoder in {folder} scores the probe's answer {answer:.2f} and "
            f"another capital {other:.2f}: a margin under {MIN_PROBE_MARGIN}; not used"
        )


def _trained(
    base: Path,
    found: Sequence[QuestionReadings],
    params: RerankTuneParams,
    shape: BertShape,
) -> Any:
    import torch  # only here: every other command would pay for its import

    torch.manual_seed(params.seed)
    model = float_cross_encoder(base / MODEL_FILE, shape)
    model.train()
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    budgets = {r.max_tokens for q in found for r in q.readings}
    tokenizers = {
        n: unpadded_tokenizer(base / TOKENIZER_FILE, n, pairs=True) for n in sorted(budgets)
    }
    for epoch in range(params.epochs):
        order = list(range(len(found)))
        random.Random(params.seed * 1_000_003 + epoch).shuffle(order)
        for i in order:
            # One step per question, over all of its readings.
            losses = [
                _reading_loss(model, tokenizers[r.max_tokens], found[i].question, r)
                for r in found[i].readings
            ]
            taught = [loss for loss in losses if loss is not None]
            if not taught:
                continue
            optimiser.zero_grad()
            sum(taught).backward()
            optimiser.step()
    return model.eval()


def _reading_loss(model: Any, tokenizer: Any, question: str, reading: Reading) -> Any:
    import torch

    if len(set(reading.holds)) < 2:  # nothing to rank: spare the forward pass
        return None
    batch = padded_batch(tokenizer.encode_batch([(question, t) for t in reading.texts]))
    logits = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits[:, 0]
    return listwise_loss(logits, reading.holds)


# An encoder matrix product's node, named after the torch module it was exported from.
_ENCODER_MATMUL = re.compile(r"/bert/encoder/layer\.(\d+)/(.+)/MatMul_quant")
_EMBEDDINGS = ("word_embeddings", "token_type_embeddings", "position_embeddings")


def float_cross_encoder(path: Path, shape: BertShape = CROSS_ENCODER_SHAPE) -> Any:
    """The int8 ONNX cross-encoder at `path` as a float torch model: each int8 weight
    dequantised, (q − zero point) × scale, and put back where the exported graph says it
    came from. Refuses a graph whose weights do not all find their place."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    model = bert_cross_encoder(shape)
    weights = {
        name: array
        for name, array in stored.items()
        if array.dtype == np.float32 and array.ndim >= 1 and not name.endswith("_scale")
    }
    for embedding in _EMBEDDINGS:
        name = f"bert.embeddings.{embedding}.weight"
        if f"{name}_quantized" in stored:
            weights[name] = _dequantised(stored, name)
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            weight = node.input[1].removesuffix("_quantized")
            # ONNX multiplies by [in, out]; torch's Linear keeps [out, in].
            module = _module_weight(node.name, weight.removesuffix("_Transposed"))
            weights[module] = _dequantised(stored, weight).T
    state = {name: _tensor(array) for name, array in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(
            f"{path}: not the graph of a BERT cross-encoder of this shape "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.eval()


def bert_cross_encoder(shape: BertShape) -> Any:
    """A BERT of this shape with a one-logit head, its weights random."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.positions,
    )
    config.num_labels = 1  # one relevance logit
    return BertForSequenceClassification(config)


def _dequantised(stored: dict[str, npt.NDArray[Any]], name: str) -> npt.NDArray[np.float32]:
    quantised = stored[f"{name}_quantized"].astype(np.float32)
    zero = stored[f"{name}_zero_point"].astype(np.float32)
    scale = stored[f"{name}_scale"].astype(np.float32)
    return np.asarray((quantised - zero) * scale, dtype=np.float32)


def _module_weight(node: str, weight: str) -> str:
    """The torch parameter a quantised matrix product's weight belongs to: encoder
    weights are stored under anonymous names ("onnx::MatMul_1662"), so the node's own
    name says which layer and module; the pooler's and classifier's keep theirs."""
    found = _ENCODER_MATMUL.fullmatch(node)
    if found:
        return f"bert.encoder.layer.{found[1]}.{found[2].replace('/', '.')}.weight"
    if weight.startswith(("bert.pooler.", "classifier.")):
        return weight
    raise ModelError(f"quantised product {node} ({weight}): no place for it in a BERT")


def _tensor(array: npt.NDArray[Any]) -> Any:
    import torch

    return torch.from_numpy(np.array(array, dtype=array.dtype, copy=True))


def _export_int8(model: Any, target: Path) -> None:
    """torch → ONNX (fp32) → int8 at `target`, one scale per weight column."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Exported as it is, not wrapped, so the graph's names are the packaged one's
    # (`float_cross_encoder` reads either); a tuple out, not a dict.
    model.config.return_dict = False
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((1, 16), dtype=torch.long)
    fp32 = target.with_name("model-fp32.onnx")
    # Tracing warns about shape-dependent branches; the mask is always given and the
    # result is checked on the probe before it is published.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    # The quantiser logs advice about static pre-processing on the root logger; dynamic
    # quantisation of a BERT needs none, and the advice would read like a fault.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
    fp32.unlink()
