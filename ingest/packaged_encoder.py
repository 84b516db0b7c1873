"""bge-small-en-v1.5 from its packaged int8 ONNX file: the [CLS] vector, L2-normalised.

bge is asymmetric: questions carry an instruction prefix, passages none
(`query_prefix`, applied by the searcher). The packaged graph quantises activations at
run time with one scale per tensor (DynamicQuantizeLinear), so in a batch every member,
and its padding, shifts every other member's vector (cosine 0.996 on a probe). Each text
therefore runs alone: a passage's vector never depends on what it was embedded with
(incremental ingest, the embedding cache, concurrent questions), for about a fifth less
throughput than batches of eight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import ModelError
from core.models import BGE_MODEL, BGE_QUERY_PREFIX, BGE_SMALL, PackagedModel
from ingest.packaged import onnx_session, packaged_folder, padded_batch, unpadded_tokenizer
from ingest.vectors import Vectors, normalise

OUTPUT = "last_hidden_state"


class PackagedEmbedder:
    """A BERT encoder shipped as package files, pooled by its [CLS] token."""

    def __init__(
        self,
        model: PackagedModel = BGE_SMALL,
        name: str = BGE_MODEL,
        query_prefix: str = BGE_QUERY_PREFIX,
        *,
        rows_per_pass: int = 1,
        threads: int = 0,
    ) -> None:
        folder = packaged_folder(model)
        self._name = name
        self._query_prefix = query_prefix
        self._rows_per_pass = rows_per_pass
        self._tokenizer = unpadded_tokenizer(
            folder / "tokenizer.json", model.max_tokens, pairs=False
        )
        self._session = onnx_session(folder / "model.onnx", threads)
        self._dimension = _hidden_size(self._session.get_outputs(), model.model_id)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def query_prefix(self) -> str:
        return self._query_prefix

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        """`batch_size` is how many texts the caller hands over at once; forward passes
        take `rows_per_pass` of them (one, for the reason in the module docstring)."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Similar lengths together: padding is wasted work when passes hold several texts.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._rows_per_pass):
            rows = order[start : start + self._rows_per_pass]
            batch = padded_batch([encodings[i] for i in rows])
            hidden = self._session.run([OUTPUT], dict(batch))[0]
            out[rows] = hidden[:, 0]
        return normalise(out)


def _hidden_size(outputs: Sequence[object], model_id: str) -> int:
    """The width of the token vectors, refusing a graph that does not give them."""
    shapes = {getattr(o, "name", ""): getattr(o, "shape", None) for o in outputs}
    shape = shapes.get(OUTPUT)
    if not isinstance(shape, list) or len(shape) != 3 or not isinstance(shape[2], int):
        raise ModelError(
            f"{model_id}: the ONNX graph has no {OUTPUT} output of shape "
            f"(batch, tokens, width); it has {shapes}"
        )
    return shape[2]
