"""The tuned cross-encoder: readings files, the int8 graph read back as a float model,
fine-tuning on a tiny real model, and where the tuned model is kept. The tiny model has
the packaged cross-encoder's tokenizer and random weights, exported and quantised as the
tuned one is, so training runs in seconds yet goes through every real step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ModelError
from core.models import MS_MARCO_RERANKER, TUNED_RERANKER
from core.settings import Settings
from index.attribution import without_attribution
from index.rerank import MAX_TOKENS, WHOLE_TOKENS, Budgets, CrossEncoder
from index.searcher import Searcher
from ingest import tune_reranker as tune_reranker_module
from ingest.packaged import onnx_session, packaged_folder, padded_batch, unpadded_tokenizer
from ingest.tune_reranker import (
    MODEL_FILE,
    PROBE,
    PROBE_ANSWER,
    PROBE_OTHER,
    READINGS_FILE,
    TOKENIZER_FILE,
    BertShape,
    QuestionReadings,
    Reading,
    RerankTuneParams,
    _export_int8,
    bert_cross_encoder,
    check_probe,
    float_cross_encoder,
    listwise_loss,
    probe_logits,
    read_readings,
    tune_reranker,
    tuned_reranker,
    tuned_reranker_folder,
    write_readings,
)
from iomqa.evaluation import calibrate
from iomqa.evaluation.harness import Question
from iomqa.evaluation.tuning import READ_DEPTH, READ_WHOLE, question_readings

TINY = BertShape(hidden_size=32, layers=2, heads=2, intermediate_size=64, positions=256)
FOUND = [
    QuestionReadings(
        PROBE,
        (Reading((PROBE_OTHER, PROBE_ANSWER, "Rome is in Italy."), (False, True, False), 64),),
    ),
    QuestionReadings(
        "How much money did migrants send home?",
        (
            Reading(
                ("Borders closed in 2020.", "Remittances reached five billion dollars."),
                (False, True),
                64,
            ),
            Reading(("Remittances reached five billion dollars.",), (True,), 128),
        ),
    ),
    QuestionReadings(
        "Which cities worked together?",
        (
            Reading(
                ("The Mayors Mechanism brought cities together.", "Health care mattered."),
                (True, False),
                64,
            ),
        ),
    ),
]
# Enough steps for the tiny model to learn the probe (the first question) well past the
# check's margin on any CPU: 30 epochs gave a margin of 3.97 on one machine, 100 give 5.7.
FAST = RerankTuneParams(epochs=100, learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer, 32-wide BERT cross-encoder with random weights, exported and
    quantised to int8 beside the packaged cross-encoder's tokenizer."""
    import shutil

    folder = tmp_path_factory.mktemp("tiny-ce")
    _export_int8(_tiny_model(), folder / MODEL_FILE)
    shutil.copy(packaged_folder(MS_MARCO_RERANKER) / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    return folder


def _tiny_model() -> Any:
    """Random weights, biases and norms included: left at their initial zeros and ones,
    the export would store equal tensors once, under one of their names."""
    import torch

    torch.manual_seed(0)
    model: Any = bert_cross_encoder(TINY)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model.eval()


def _onnx_logits(folder: Path, question: str, texts: tuple[str, ...]) -> np.ndarray:
    tokenizer = unpadded_tokenizer(folder / TOKENIZER_FILE, 64, pairs=True)
    session = onnx_session(folder / MODEL_FILE, threads=1)
    return np.array(
        [
            session.run(None, dict(padded_batch([tokenizer.encode(question, t)])))[0][0, 0]
            for t in texts
        ]
    )


def _torch_logits(model: Any, folder: Path, question: str, texts: tuple[str, ...]) -> np.ndarray:
    import torch

    tokenizer = unpadded_tokenizer(folder / TOKENIZER_FILE, 64, pairs=True)
    batch = padded_batch(tokenizer.encode_batch([(question, t) for t in texts]))
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
    return np.asarray(out.logits[:, 0].numpy())


def test_readings_round_trip_through_their_file(tmp_path: Path) -> None:
    write_readings(tmp_path / "r.jsonl", FOUND)
    assert read_readings(tmp_path / "r.jsonl") == FOUND


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"question": "q"}', "readings"),
        (
            '{"question": "q", "readings": [{"texts": ["a", "b"], "holds": [true], '
            '"max_tokens": 64}]}',
            "2 texts but 1 holds",
        ),
        ("not json", "Expecting value"),
    ],
)
def test_a_malformed_readings_file_names_the_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(FOUND[2].__dict__ | {"readings": []}) + "\n" + line + "\n")
    with pytest.raises(ModelError, match=f"r.jsonl:2: .*{problem}"):
        read_readings(path)
    path.write_text("\n")
    with pytest.raises(ModelError, match="no readings"):
        read_readings(path)


def test_the_shipped_readings_come_from_development_questions_only() -> None:
    asked = {q.question for q in read_readings(READINGS_FILE)}
    assert len(asked) > 200
    for name in ("validation.jsonl", "validation-2.jsonl", "validation-3.jsonl"):
        for line in (Path("tests/eval") / name).read_text().splitlines():
            question = json.loads(line)["question"]
            assert question not in asked and without_attribution(question) not in asked


def test_the_shipped_readings_are_as_deep_as_the_readings_written_now() -> None:
    # Written again by `iomqa eval --reranker-readings`, the file would teach as much.
    for found in read_readings(READINGS_FILE):
        highlights, whole = found.readings
        assert (len(highlights.texts), len(whole.texts)) == (READ_DEPTH, READ_WHOLE)
        assert (highlights.max_tokens, whole.max_tokens) == (MAX_TOKENS, WHOLE_TOKENS)


def test_the_listwise_loss_is_the_softmax_mass_missing_from_the_evidence() -> None:
    import torch

    logits = torch.tensor([2.0, 0.0, 1.0])
    loss = listwise_loss(logits, (False, True, True))
    mass = (np.exp(0.0) + np.exp(1.0)) / (np.exp(2.0) + np.exp(0.0) + np.exp(1.0))
    assert float(loss) == pytest.approx(-np.log(mass), rel=1e-6)
    # Raising the evidence's logit lowers the loss; a reading with nothing to rank is skipped.
    assert float(listwise_loss(torch.tensor([2.0, 3.0, 1.0]), (False, True, True))) < float(loss)
    assert listwise_loss(logits, (True, True, True)) is None
    assert listwise_loss(logits, (False, False, False)) is None


def test_the_packaged_int8_cross_encoder_reads_back_as_a_float_model() -> None:
    folder = packaged_folder(MS_MARCO_RERANKER)
    model = float_cross_encoder(folder / MODEL_FILE)
    as_float = _torch_logits(model, folder, PROBE, (PROBE_ANSWER, PROBE_OTHER))
    as_int8 = np.array(probe_logits(folder))
    assert np.abs(as_float - as_int8).max() < 0.5  # 9.14 / -2.05 against 8.9 / -2.0
    assert as_float[0] - as_float[1] > 10


def test_an_exported_cross_encoder_reads_back_as_the_model_it_came_from(
    tiny_cross_encoder: Path,
) -> None:
    original = _tiny_model()  # the fixture's seed: the same random weights
    texts = (PROBE_ANSWER, PROBE_OTHER, "Remittances reached five billion dollars.")
    expected = _torch_logits(original, tiny_cross_encoder, PROBE, texts)
    read_back = float_cross_encoder(tiny_cross_encoder / MODEL_FILE, TINY)
    got = _torch_logits(read_back, tiny_cross_encoder, PROBE, texts)
    np.testing.assert_allclose(got, expected, atol=0.02 + 0.05 * np.abs(expected).max())


def test_a_cross_encoder_that_does_not_know_relevance_is_refused(tiny_cross_encoder: Path) -> None:
    with pytest.raises(ModelError, match="margin under"):
        check_probe(tiny_cross_encoder)


def test_tuning_ranks_each_questions_evidence_first(
    tiny_cross_encoder: Path, tmp_path: Path
) -> None:
    tune_reranker(tiny_cross_encoder, FOUND, tmp_path / "tuned", FAST, TINY)
    check_probe(tmp_path / "tuned")  # passed inside the tuning too, or it would not publish
    for found in FOUND:
        for reading in found.readings:
            if len(reading.texts) > 1:
                logits = _onnx_logits(tmp_path / "tuned", found.question, reading.texts)
                assert reading.holds[int(np.argmax(logits))]
    assert [p.name for p in tmp_path.iterdir()] == ["tuned"]  # no scratch left behind


def test_the_tuned_cross_encoder_is_named_after_every_input_and_built_once(
    tiny_cross_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings = tmp_path / "r.jsonl"
    write_readings(readings, FOUND)
    name = tuned_reranker_folder(tmp_path, tiny_cross_encoder, readings, FAST)
    assert name != tuned_reranker_folder(tmp_path, tiny_cross_encoder, readings, RerankTuneParams())
    write_readings(readings, FOUND[:2])
    assert name != tuned_reranker_folder(tmp_path, tiny_cross_encoder, readings, FAST)
    write_readings(readings, FOUND)

    cache = tmp_path / "cache"
    built = tuned_reranker(cache, tiny_cross_encoder, readings, FAST, TINY)
    stamp = (built / MODEL_FILE).stat().st_mtime_ns
    assert tuned_reranker(cache, tiny_cross_encoder, readings, FAST, TINY) == built
    assert (built / MODEL_FILE).stat().st_mtime_ns == stamp  # reused, not tuned again
    reranker = CrossEncoder(built, TUNED_RERANKER)
    assert reranker.name == TUNED_RERANKER
    assert reranker.score(PROBE, [PROBE_ANSWER, PROBE_OTHER]).shape == (2,)


def test_readings_are_what_the_cross_encoder_reads_marked_by_evidence(
    small_index: Settings,
) -> None:
    questions = [
        Question("a0", "term", "Which partners were involved?", "beta", "Mayors Mechanism", None),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
    ]
    searcher = Searcher.open_current(small_index.index_dir, small_index.model_source)
    try:
        (found,) = question_readings(searcher, questions)
    finally:
        searcher.close()
    highlights, whole = found.readings
    assert found.question == "Which partners were involved?"
    assert (highlights.max_tokens, whole.max_tokens) == (MAX_TOKENS, WHOLE_TOKENS)
    assert 1 < len(highlights.texts) <= READ_DEPTH
    assert len(whole.texts) == min(READ_WHOLE, len(highlights.texts))
    assert whole.holds == highlights.holds[:READ_WHOLE]
    assert any(highlights.holds) and not all(highlights.holds)
    for text, holds in zip(whole.texts, whole.holds, strict=True):
        assert ("Mayors Mechanism" in text) == holds  # the whole passage, with its heading


class NamedReranker:
    """A stand-in cross-encoder under the tuned one's name: scores by one word."""

    name = TUNED_RERANKER

    def __init__(self, kept: list[str]) -> None:
        self.kept = kept  # the questions whose readings it was "tuned" on

    def score(self, question: str, texts: Any, max_tokens: Budgets = MAX_TOKENS) -> np.ndarray:
        return np.array([5.0 if "Mayors" in t else -5.0 for t in texts], dtype=np.float32)


def test_calibrating_asks_each_half_through_a_cross_encoder_tuned_without_it(
    small_index: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = [
        Question("a0", "name", "Which partners were involved?", "beta", "Mayors Mechanism", None),
        Question("a1", "term", "What do migrants need?", "alpha", "access to health", None),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
        Question("u1", "unanswerable", "Deep sea fishing quotas?", None, None, None),
    ]
    shipped = tmp_path / "shipped.jsonl"
    reading = Reading(("The Mayors Mechanism.", "Health."), (True, False), MAX_TOKENS)
    write_readings(shipped, [QuestionReadings(q.question, (reading,)) for q in questions[:2]])
    monkeypatch.setattr(tune_reranker_module, "READINGS_FILE", shipped)
    tuned: list[NamedReranker] = []

    def tuned_on(cache_dir: Path, readings: Path | None = None) -> NamedReranker:
        assert readings is not None
        tuned.append(NamedReranker([r.question for r in read_readings(readings)]))
        return tuned[-1]

    monkeypatch.setattr(calibrate, "tuned_cross_encoder", tuned_on)
    monkeypatch.setattr(calibrate, "load_reranker", lambda name, cache: NamedReranker([]))
    settings = small_index.model_copy(update={"reranker": TUNED_RERANKER})
    report = calibrate.refit(settings, questions, "four questions")
    # Halves alternate: (a0, u0) through a cross-encoder that never read a0, (a1, u1)
    # through one that never read a1.
    assert [t.kept for t in tuned] == [[questions[1].question], [questions[0].question]]
    assert "precise: refitted on 4 questions" in report
