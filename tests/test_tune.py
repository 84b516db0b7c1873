"""The tuned embedder: pairs files, fine-tuning on a tiny real model, and where the tuned
model is kept. The tiny model has the packaged model's tokenizer and random weights, so
training runs in seconds yet goes through every real step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.models import TUNED_NAME, ModelSource
from core.settings import Settings
from index.build import BuildConfig, build_index
from index.searcher import Searcher
from ingest import tune as tune_module
from ingest.embed import default_model_path, make_embedder
from ingest.tune import (
    PAIRS_FILE,
    TrainingPair,
    TuneParams,
    batches,
    read_pairs,
    tune,
    tuned_folder,
    tuned_model,
    write_pairs,
)
from iomqa.evaluation import calibrate
from iomqa.evaluation.harness import Question
from iomqa.evaluation.tuning import best_sentence, training_pairs

PAIRS = [
    TrainingPair("money migrants send home", "Remittances reached five thousand dollars."),
    TrainingPair("doctors for people on the move", "Migrants need access to health services."),
    TrainingPair("closed frontiers", "Border restrictions disrupted travel.", ("Census data.",)),
    TrainingPair("city leaders working together", "The Mayors Mechanism involved cities."),
]
FAST = TuneParams(epochs=15, learning_rate=1e-3, batch_size=4)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer, 32-wide BERT in a sentence-transformers folder (mean pooling,
    normalised), with the packaged model's tokenizer."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    packaged = default_model_path()
    bert = tmp_path_factory.mktemp("bert")
    vocab = len((packaged / "vocab.txt").read_text().splitlines())
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(bert)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(packaged / name, bert / name)
    folder = tmp_path_factory.mktemp("tiny")
    transformer = Transformer(str(bert), max_seq_length=64)
    pooling = Pooling(32, pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, Normalize()]).save(str(folder))
    return folder


def _margins(model: Path, pairs: list[TrainingPair]) -> np.ndarray:
    """Each question's cosine with its own positive minus its best with another's."""
    embedder = make_embedder(f"{model.name}@torch", ModelSource(model))
    questions = embedder.encode([p.question for p in pairs])
    positives = embedder.encode([p.positive for p in pairs])
    scores = questions @ positives.T
    others = np.where(np.eye(len(pairs), dtype=bool), -np.inf, scores).max(axis=1)
    return np.diag(scores) - others


def test_pairs_round_trip_through_their_file(tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs.jsonl", PAIRS)
    assert read_pairs(tmp_path / "pairs.jsonl") == PAIRS


def test_a_malformed_pairs_file_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "pairs.jsonl"
    file.write_text(json.dumps({"question": "q", "positive": "p", "negatives": []}) + "\n{}\n")
    with pytest.raises(ModelError, match=r"pairs.jsonl:2: a tuning pair needs question"):
        read_pairs(file)
    file.write_text("\n")
    with pytest.raises(ModelError, match="no tuning pairs"):
        read_pairs(file)


def test_the_shipped_pairs_come_from_development_questions_only() -> None:
    asked = {p.question for p in read_pairs(PAIRS_FILE)}
    for name in ("validation.jsonl", "validation-2.jsonl", "validation-3.jsonl"):
        for line in (Path("tests/eval") / name).read_text().splitlines():
            assert json.loads(line)["question"] not in asked


def test_batches_cover_every_pair_once_per_epoch_in_a_seeded_order() -> None:
    first = batches(PAIRS * 3, 5, epoch=0, seed=0)
    assert sorted(i for b in first for i in b) == list(range(12))
    assert max(len(b) for b in first) == 5
    assert first == batches(PAIRS * 3, 5, epoch=0, seed=0)
    assert first != batches(PAIRS * 3, 5, epoch=1, seed=0)


def test_tuning_moves_each_question_toward_its_own_passage(
    tiny_model: Path, tmp_path: Path
) -> None:
    before = _margins(tiny_model, PAIRS)
    tune(tiny_model, PAIRS, tmp_path / "tuned", FAST)
    after = _margins(tmp_path / "tuned", PAIRS)
    assert after.mean() > before.mean() + 0.1
    assert (after > 0).all()  # every question now nearest its own positive


def test_the_tuned_folder_is_named_after_every_input(tiny_model: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, PAIRS)
    name = tuned_folder(tmp_path, tiny_model, pairs, FAST)
    assert name == tuned_folder(tmp_path, tiny_model, pairs, FAST)
    assert name != tuned_folder(tmp_path, tiny_model, pairs, TuneParams())
    write_pairs(pairs, PAIRS[:3])
    assert name != tuned_folder(tmp_path, tiny_model, pairs, FAST)
    with pytest.raises(ModelError, match="no model weights"):
        tuned_folder(tmp_path, tmp_path, pairs, FAST)


def test_the_tuned_model_is_built_once_into_the_cache(tiny_model: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, PAIRS)
    cache = tmp_path / "cache"
    built = tuned_model(cache, tiny_model, pairs, FAST)
    weights = built / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert tuned_model(cache, tiny_model, pairs, FAST) == built
    assert weights.stat().st_mtime_ns == stamp  # reused, not tuned again
    assert [p.name for p in cache.iterdir()] == [built.name]  # no scratch left behind


def test_the_tuned_setting_tunes_the_base_weights_it_is_given(
    tiny_model: Path, tmp_path: Path
) -> None:
    embedder = make_embedder(f"{TUNED_NAME}@torch", ModelSource(tiny_model, tmp_path))
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith(f"{tiny_model.name}-tuned-")
    assert embedder.name == f"{TUNED_NAME}@torch"
    assert embedder.encode(["remittances"]).shape == (1, 32)


def test_training_pairs_hold_the_evidence_and_a_negative_without_it(
    small_index: Settings,
) -> None:
    questions = [
        Question("a0", "term", "Which partners were involved?", "beta", "Mayors Mechanism", None),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
        Question("a1", "term", "Where is the moon base?", None, "a quote no passage has", None),
    ]
    searcher = Searcher.open_current(small_index.index_dir, small_index.model_source)
    try:
        passage_pair, sentence_pair = training_pairs(searcher, questions)
    finally:
        searcher.close()
    assert passage_pair.question == sentence_pair.question == "Which partners were involved?"
    assert passage_pair.positive.startswith("BETA SUBMISSION")  # read as the retrievers read it
    assert "Mayors Mechanism" in passage_pair.positive
    assert len(passage_pair.negatives) == 1
    assert "Mayors Mechanism" not in passage_pair.negatives[0]
    assert (
        sentence_pair.positive
        == "The Mayors Mechanism involved United Cities and Local Governments."
    )
    assert sentence_pair.negatives == ()


def test_the_best_sentence_shares_most_words_with_the_evidence() -> None:
    text = "Borders closed. Remittances fell by a fifth in 2020. Health care mattered."
    assert (
        best_sentence(text, "remittances fell by a fifth") == "Remittances fell by a fifth in 2020."
    )


def test_calibrating_asks_each_half_through_a_model_tuned_without_it(
    tiny_model: Path, small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partners = "Which partners were involved?"
    needs = "What do migrants need?"
    pairs = [
        TrainingPair(partners, "The Mayors Mechanism involved United Cities."),
        TrainingPair(needs, "Migrants need access to health services regardless of status."),
        TrainingPair("What did the pandemic do?", "The pandemic reversed development gains."),
    ]
    shipped = tmp_path / "shipped.jsonl"
    write_pairs(shipped, pairs)
    monkeypatch.setattr(tune_module, "PAIRS_FILE", shipped)
    settings = Settings(
        corpus_dir=small_corpus,
        index_dir=tmp_path / "index",
        model=f"{TUNED_NAME}@torch",
        model_path=tiny_model,
        model_cache_dir=tmp_path / "cache",
        reranker="none",
    )
    embedder = make_embedder(settings.model, settings.model_source)
    build_index(BuildConfig.from_settings(settings), embedder)
    questions = [
        Question("a0", "name", partners, "beta", "Mayors Mechanism", None),
        Question("a1", "term", needs, "alpha", "access to health services", None),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
        Question("u1", "unanswerable", "Deep sea fishing quotas?", None, None, None),
    ]
    report = calibrate.refit(settings, questions, "four questions")
    # The first half (a0, u0) was asked through a model that never saw a0's pair, the
    # second through one that never saw a1's; both were tuned next to the served one.
    for left_out in (pairs[0], pairs[1]):
        kept = tmp_path / f"without-{left_out.question}.jsonl"
        write_pairs(kept, [p for p in pairs if p != left_out])
        assert tuned_folder(settings.model_cache_dir, tiny_model, kept, TuneParams()).is_dir()
    assert len(list(settings.model_cache_dir.iterdir())) == 3
    assert "fast: refitted on 4 questions" in report
    assert not (settings.index_dir / "1").exists()  # the fold indexes were scratch
