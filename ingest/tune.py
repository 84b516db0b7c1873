"""all-MiniLM-L6-v2 fine-tuned on how questions about these reports are worded.

The packaged model places a question near passages that share its words; a question that
restates a passage in other words ("what people abroad send back" for remittances) often
lands far from it. Fine-tuning on question → evidence pairs (the development questions,
`iomqa eval --tuning-pairs`) moves such questions toward their evidence; measured
on questions it never saw in docs/experiments.md, row 103.

The tuned model is derived, never downloaded: the packaged weights, a pairs file and fixed
settings give one model folder, built once into the model cache under a name that changes
when any of them does, so an index built with one tuning is never queried with another.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError

log = logging.getLogger(__name__)

PAIRS_FILE = Path(__file__).parent / "tuning" / "idm-questions.jsonl"


def shipped_pairs() -> Path:
    """PAIRS_FILE, looked up when asked (tests point it elsewhere)."""
    return PAIRS_FILE


@dataclass(frozen=True)
class TrainingPair:
    """A question, the text that answers it, and texts ranked above it that do not."""

    question: str
    positive: str
    negatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class TuneParams:
    """The fine-tuning recipe (docs/experiments.md, row 103)."""

    epochs: int = 2
    learning_rate: float = 2e-5
    batch_size: int = 16
    # Cosine × scale as logits, the in-batch softmax of MultipleNegativesRankingLoss
    # (Henderson et al. 2017): every other pair's positive is a negative too.
    scale: float = 20.0
    warmup_share: float = 0.1  # linear warm-up over this share of the steps
    weight_decay: float = 0.01
    seed: int = 0


def read_pairs(path: Path) -> list[TrainingPair]:
    """One JSON object per line: question, positive, negatives (a list, may be empty)."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pair = TrainingPair(
                str(row["question"]), str(row["positive"]), tuple(map(str, row["negatives"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{path}:{number}: a tuning pair needs question, positive and negatives ({exc})"
            ) from exc
        pairs.append(pair)
    if not pairs:
        raise ModelError(f"{path}: no tuning pairs")
    return pairs


def write_pairs(path: Path, pairs: Sequence[TrainingPair]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(asdict(p) | {"negatives": list(p.negatives)}) for p in pairs)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def tuned_folder(cache_dir: Path, base: Path, pairs_file: Path, params: TuneParams) -> Path:
    """Where the model tuned from these inputs lives: named after all of them."""
    digest = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode())
    for file in (pairs_file, *_weight_files(base)):
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return cache_dir / f"{base.name}-tuned-{digest.hexdigest()[:16]}"


def tuned_model(
    cache_dir: Path, base: Path, pairs_file: Path | None = None, params: TuneParams = TuneParams()
) -> Path:
    """The tuned model's folder, fine-tuned first if it is not in the cache yet; from the
    shipped pairs unless `pairs_file` says otherwise."""
    pairs_file = pairs_file or shipped_pairs()
    target = tuned_folder(cache_dir, base, pairs_file, params)
    if not (target / "modules.json").exists():
        pairs = read_pairs(pairs_file)
        # A warning so that the command line shows it: minutes pass without other output.
        log.warning(
            "tuning %s on %d question pairs into %s (once; minutes)", base, len(pairs), target
        )
        tune(base, pairs, target, params)
    return target


def tune(base: Path, pairs: Sequence[TrainingPair], target: Path, params: TuneParams) -> None:
    """Fine-tune the sentence-transformers model at `base` and publish it at `target`
    atomically (written beside it, then renamed), so a half-written model is never used."""
    model = _trained(base, pairs, params)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        scratch.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users
        model.save(str(scratch))
        try:
            os.replace(scratch, target)
        except OSError:  # another process published the same model first
            if not (target / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def batches(pairs: Sequence[TrainingPair], size: int, epoch: int, seed: int) -> list[list[int]]:
    """Each epoch's pairs in a shuffled order fixed by the seed, cut into batches."""
    order = list(range(len(pairs)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i : i + size] for i in range(0, len(order), size)]


def _trained(base: Path, pairs: Sequence[TrainingPair], params: TuneParams) -> Any:
    import torch  # only here: every other command would pay for its import
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(params.seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    model.train()
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    steps = params.epochs * -(-len(pairs) // params.batch_size)
    warmup = max(1, int(steps * params.warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup)
    )

    # sentence-transformers renamed `tokenize` to `preprocess`; accept both spellings.
    tokenized = getattr(model, "preprocess", None) or model.tokenize

    def encoded(texts: list[str]) -> Any:
        embedded = model(tokenized(texts))["sentence_embedding"]
        return torch.nn.functional.normalize(embedded, dim=-1)

    for epoch in range(params.epochs):
        for batch in batches(pairs, params.batch_size, epoch, params.seed):
            chosen = [pairs[i] for i in batch]
            questions = encoded([p.question for p in chosen])
            texts = [p.positive for p in chosen] + [n for p in chosen for n in p.negatives]
            logits = questions @ encoded(texts).T * params.scale
            # Question i's positive is text i; every other text in the batch is a negative.
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(chosen)))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
    model.eval()
    return model


def _weight_files(base: Path) -> list[Path]:
    found = [base / n for n in ("model.safetensors", "pytorch_model.bin") if (base / n).exists()]
    if not found:
        raise ModelError(f"{base}: no model weights to tune (model.safetensors)")
    return found
