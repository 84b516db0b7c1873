"""The ONNX Runtime question and passage encoder, and how a model is named and found."""

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from core.errors import ModelError
from core.models import MODEL_NAME, ModelSource, split_model_spec
from core.settings import Settings
from ingest import onnx_encoder
from ingest.embed import HashingEmbedder, default_model_path, make_embedder
from ingest.onnx_encoder import OnnxEmbedder, mean_pool, read_model_config


def test_a_model_spec_names_its_backend() -> None:
    assert split_model_spec("org/m") == ("org/m", "torch")
    assert split_model_spec("org/m@onnx") == ("org/m", "onnx")
    assert split_model_spec("org/m@onnx-int8") == ("org/m", "onnx-int8")
    with pytest.raises(ValueError, match="torch, onnx, onnx-int8"):
        split_model_spec("org/m@tensorrt")
    with pytest.raises(ValueError, match="NAME@BACKEND"):
        split_model_spec("@onnx")


def test_settings_refuse_an_unknown_backend_and_list_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="torch, onnx, onnx-int8"):
        Settings(model="org/m@gpu")
    assert isinstance(make_embedder("hashing-16"), HashingEmbedder)


def test_mean_pool_ignores_padding_and_normalises() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]], dtype=np.int64)
    assert mean_pool(hidden, mask).tolist() == [[1.0, 0.0]]
    # An all-padding row (never produced by the tokenizer) still yields finite numbers.
    assert np.isfinite(mean_pool(hidden, np.zeros_like(mask))).all()


def _folder(root: Path, pooling: dict[str, object], types: list[str]) -> Path:
    (root / "1_Pooling").mkdir(parents=True)
    modules = [
        {
            "idx": i,
            "name": str(i),
            "path": "1_Pooling" if t == "Pooling" else "",
            "type": f"sentence_transformers.models.{t}",
        }
        for i, t in enumerate(types)
    ]
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return root


def test_only_mean_pooled_normalised_models_are_exported(tmp_path: Path) -> None:
    good = {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}
    pipeline = ["Transformer", "Pooling", "Normalize"]
    config = read_model_config(_folder(tmp_path / "a", good, pipeline))
    assert (config.max_seq_length, config.dimension) == (128, 8)
    cls = {"word_embedding_dimension": 8, "pooling_mode_cls_token": True}
    with pytest.raises(ModelError, match="use the torch backend"):
        read_model_config(_folder(tmp_path / "b", cls, pipeline))
    with pytest.raises(ModelError, match="use the torch backend"):
        read_model_config(_folder(tmp_path / "c", good, ["Transformer", "Pooling"]))
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        read_model_config(tmp_path)


def test_the_layout_sentence_transformers_6_saves_is_read_too(tmp_path: Path) -> None:
    # Since version 6: one pooling mode, and the length as the tokenizer's maximum.
    pipeline = ["Transformer", "Pooling", "Normalize"]
    folder = _folder(tmp_path, {"embedding_dimension": 8, "pooling_mode": "mean"}, pipeline)
    (folder / "sentence_bert_config.json").write_text("{}")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 256}))
    config = read_model_config(folder)
    assert (config.max_seq_length, config.dimension) == (256, 8)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"embedding_dimension": 8, "pooling_mode": "cls"})
    )
    with pytest.raises(ModelError, match="use the torch backend"):
        read_model_config(folder)


# The real packaged model from here on.


@pytest.fixture(scope="module")
def torch_model():  # type: ignore[no-untyped-def]
    return make_embedder(MODEL_NAME)


TEXTS = [
    "How many Member States did the IOM Council have in 2018?",
    "remittances",
    # Longer than 128 tokens: the tokenizer file's own limit, which the model does not share.
    " ".join(["Migrants contribute to sustainable development in countries of origin."] * 30),
]


@pytest.mark.integration
def test_onnx_reproduces_torch_and_int8_stays_close(torch_model, model_cache: Path) -> None:  # type: ignore[no-untyped-def]
    expected = torch_model.encode(TEXTS)
    source = ModelSource(cache_dir=model_cache)
    fp32 = make_embedder(f"{MODEL_NAME}@onnx", source)
    assert fp32.name == f"{MODEL_NAME}@onnx" and fp32.dimension == 384
    # One batch with padding and one text at a time must agree alike.
    assert np.allclose(fp32.encode(TEXTS), expected, atol=1e-4)
    assert np.allclose(np.vstack([fp32.encode([t]) for t in TEXTS]), expected, atol=1e-4)
    int8 = make_embedder(f"{MODEL_NAME}@onnx-int8", source)
    assert (int8.encode(TEXTS) * expected).sum(axis=1).min() > 0.97


@pytest.mark.integration
def test_an_export_is_made_once_and_reused(model_cache: Path) -> None:
    source = ModelSource(cache_dir=model_cache)
    make_embedder(f"{MODEL_NAME}@onnx", source)
    files = {p: p.stat().st_mtime_ns for p in model_cache.glob("*-onnx-[0-9a-f]*.onnx")}
    assert len(files) == 1
    make_embedder(f"{MODEL_NAME}@onnx", source)
    assert {p: p.stat().st_mtime_ns for p in model_cache.glob("*-onnx-[0-9a-f]*.onnx")} == files
    assert not [p for p in model_cache.iterdir() if p.is_dir()]  # no scratch left behind


@pytest.mark.integration
def test_an_export_that_disagrees_with_torch_is_refused_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(onnx_encoder.MIN_AGREEMENT, "onnx-int8", 1.01)
    with pytest.raises(ModelError, match="disagrees with torch"):
        OnnxEmbedder(default_model_path(), f"{MODEL_NAME}@onnx-int8", "onnx-int8", tmp_path)
    assert list(tmp_path.glob("*.onnx")) == []


def test_an_unwritable_model_cache_is_a_clear_model_error(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(ModelError, match="IOMQA_MODEL_CACHE_DIR"):
        make_embedder(f"{MODEL_NAME}@onnx", ModelSource(cache_dir=blocked / "models"))
