"""The query adapter: its arithmetic, its files, its fitting, and the searcher using it."""

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from core.errors import IndexCorrupt
from core.models import BASE_MODEL, DEFAULT_MODEL
from core.records import Mode
from core.settings import Settings
from index.adapter import (
    ADAPTERS,
    PACKAGED_ADAPTERS,
    QueryAdapter,
    adapter_for,
    file_name,
    load,
    save,
)
from index.attribution import without_attribution
from index.searcher import Searcher
from iomqa.evaluation.adapt import fit_delta, fitted_adapter, mean_positive_rank, refit_adapter
from iomqa.evaluation.calibrate import cross_fitted_searchers
from iomqa.evaluation.harness import Question
from tests.test_cli import iomqa

QUESTION = "zephyr quokka"  # shares no word with the small corpus: dense evidence alone


def unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def test_a_zero_correction_leaves_vectors_as_they_are_at_unit_length() -> None:
    vectors = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    adapted = QueryAdapter("m", np.zeros((2, 2), dtype=np.float32)).adapt(vectors)
    np.testing.assert_allclose(adapted, [[0.6, 0.8], [0.0, 0.0]])  # the zero row stays zero


def test_the_correction_is_added_then_renormalised() -> None:
    delta = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)  # x feeds y
    adapted = QueryAdapter("m", delta).adapt(np.array([1.0, 0.0], dtype=np.float32))
    np.testing.assert_allclose(adapted, [2**-0.5, 2**-0.5], rtol=1e-6)


def test_a_saved_adapter_loads_back_under_its_embedders_name(tmp_path: Path) -> None:
    delta = np.random.default_rng(0).normal(0, 0.01, (8, 8)).astype(np.float32)
    path = save(QueryAdapter("org/model@onnx", delta, "twelve questions"), tmp_path)
    assert path.name == file_name("org/model@onnx") == "org_model_onnx.npz"
    loaded = load(path, 8)
    assert (loaded.embedder, loaded.fitted_on, loaded.dimension) == (
        "org/model@onnx",
        "twelve questions",
        8,
    )
    np.testing.assert_allclose(loaded.delta, delta, atol=1e-4)  # stored as float16


def test_an_adapter_for_other_vectors_or_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = save(QueryAdapter("m", np.zeros((8, 8), dtype=np.float32)), tmp_path)
    with pytest.raises(IndexCorrupt, match=r"8, 8.*16 dimensions.*--fit-adapter"):
        load(path, 16)
    path.write_bytes(b"not an npz file")
    with pytest.raises(IndexCorrupt, match="unreadable"):
        load(path, 8)


def test_the_first_folder_with_the_embedders_adapter_wins(tmp_path: Path) -> None:
    mine, shipped = tmp_path / "mine", tmp_path / "shipped"
    save(QueryAdapter("m", np.zeros((4, 4), dtype=np.float32), "operator's"), mine)
    save(QueryAdapter("m", np.zeros((4, 4), dtype=np.float32), "shipped"), shipped)
    found = adapter_for([mine, shipped], "m", 4)
    assert found is not None and found.fitted_on == "operator's"
    assert adapter_for([mine, shipped], "another-model", 4) is None


def test_the_shipped_adapter_is_the_packaged_embedders_and_fits_its_vectors() -> None:
    # The tuned default learned from the same questions and needs none; the packaged
    # all-MiniLM-L6-v2 (IOMQA_MODEL=...@onnx) keeps its adapter.
    (shipped,) = PACKAGED_ADAPTERS.iterdir()
    adapter = load(shipped, 384)
    assert adapter.embedder == BASE_MODEL != DEFAULT_MODEL
    # A correction, not a replacement: the identity still dominates.
    assert 0 < np.linalg.norm(adapter.delta) < np.sqrt(384)


def distorted_problem() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], list[list[int]]]:
    """Questions written "differently" from their passages: each is its passage seen
    through one fixed distortion, plus noise, which a linear correction can undo."""
    rng = np.random.default_rng(1)
    passages = unit(rng.normal(size=(60, 16)))
    distortion = np.eye(16) + rng.normal(0, 0.6, (16, 16))
    answers = rng.integers(0, 60, 120)
    questions = unit(passages[answers] @ distortion + rng.normal(0, 0.05, (120, 16)))
    return questions, passages, [[int(a)] for a in answers]


def test_fitting_moves_each_question_toward_its_evidence() -> None:
    questions, passages, positives = distorted_problem()
    delta = fit_delta(questions, passages, positives, l2=0.001)
    before = mean_positive_rank(questions, passages, positives)
    after = mean_positive_rank(QueryAdapter("m", delta).adapt(questions), passages, positives)
    assert before > 2 and after < before / 2
    # Full-batch from zero: the same questions give the same adapter.
    np.testing.assert_array_equal(delta, fit_delta(questions, passages, positives, l2=0.001))


def test_the_l2_penalty_keeps_the_correction_small() -> None:
    questions, passages, positives = distorted_problem()
    loose = fit_delta(questions, passages, positives, l2=0.001)
    tight = fit_delta(questions, passages, positives, l2=1.0)
    assert np.linalg.norm(tight) < np.linalg.norm(loose) / 2


def steering_adapter(searcher: Searcher, target_row: int) -> QueryAdapter:
    """A rank-one correction that sends QUESTION's vector onto one passage's vector."""
    embedder = searcher.embedder
    q = embedder.encode([embedder.query_prefix + without_attribution(QUESTION)])[0]
    target = searcher.passage_vectors()[target_row]
    return QueryAdapter(embedder.name, np.outer(q, target - q).astype(np.float32) / (q @ q))


def test_the_searcher_searches_with_the_adapted_question(small_index: Settings) -> None:
    plain = Searcher.open_current(small_index.index_dir, small_index.model_source)
    assert plain.adapter is None  # nothing fitted for the test embedder
    texts = plain.passage_texts()
    target = next(i for i, t in enumerate(texts) if "Mayors Mechanism" in t)
    before = plain.search(QUESTION, 3, mode=Mode.FAST)
    assert "Mayors Mechanism" not in before.hits[0].passage.text
    save(steering_adapter(plain, target), small_index.index_dir / ADAPTERS)
    plain.close()

    adapted = Searcher.open_current(small_index.index_dir, small_index.model_source)
    assert adapted.adapter is not None
    after = adapted.search(QUESTION, 3, mode=Mode.FAST)
    assert "Mayors Mechanism" in after.hits[0].passage.text
    assert after.stages.adapted and not before.stages.adapted
    assert after.signals.dense > before.signals.dense + 0.2  # near the passage's own vector
    # Turned off (IOMQA_QUERY_ADAPTER=false), the file is ignored.
    off = Searcher.open_current(small_index.index_dir, small_index.model_source, adapt=False)
    assert off.adapter is None
    unchanged = off.search(QUESTION, 3, mode=Mode.FAST).hits[0]
    assert unchanged.passage.text == before.hits[0].passage.text


def test_a_broken_adapter_refuses_the_searcher_with_the_reason(small_index: Settings) -> None:
    save(
        QueryAdapter("hashing-64", np.zeros((3, 3), dtype=np.float32)),
        small_index.index_dir / ADAPTERS,
    )
    with pytest.raises(IndexCorrupt, match="64 dimensions"):
        Searcher.open_current(small_index.index_dir, small_index.model_source)


def test_refitting_writes_the_operators_adapter_not_the_shipped_one(
    small_index: Settings,
) -> None:
    shipped = {p.name: p.read_bytes() for p in PACKAGED_ADAPTERS.iterdir()}
    questions = [
        Question("a0", "name", "Which partners were involved?", "beta", "Mayors Mechanism", "body"),
        Question(
            "a1", "term", "What do migrants need?", "alpha", "access to health services", "body"
        ),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
    ]
    report = refit_adapter(small_index, questions, "three questions")
    (written,) = (small_index.index_dir / ADAPTERS).iterdir()
    assert written.name == file_name("hashing-64")
    assert "2 questions with evidence" in report and str(written) in report
    assert load(written, 64).fitted_on == "three questions, 2 questions with evidence"
    assert {p.name: p.read_bytes() for p in PACKAGED_ADAPTERS.iterdir()} == shipped


def test_calibration_asks_each_question_through_an_adapter_fitted_without_it(
    small_index: Settings,
) -> None:
    questions = [
        Question("a0", "name", "Which partners were involved?", "beta", "Mayors Mechanism", "b"),
        Question("a1", "term", "What do migrants need?", "alpha", "access to health services", "b"),
        Question("a2", "number", "How much did remittances reach?", "alpha", "USD 5,000", "b"),
        Question("u0", "unanswerable", "Lunar mining labour?", None, None, None),
    ]
    served = Searcher.open_current(small_index.index_dir, small_index.model_source)
    assert (
        cross_fitted_searchers(served, questions, "four") == [served] * 4
    )  # no adapter: as served
    adapted = served.with_adapter(fitted_adapter(served, questions, "four"))
    asking = cross_fitted_searchers(adapted, questions, "four")
    # Even questions (a0, a2) through the odd half's adapter (a1 alone), and back.
    fitted_on = [s.adapter.fitted_on if s.adapter else "" for s in asking]
    assert (
        fitted_on
        == [
            "four, half, 1 questions with evidence",
            "four, half, 2 questions with evidence",
        ]
        * 2
    )
    served.close()


def test_the_cli_fits_the_adapter_then_calibrates_through_it_then_serves_it(
    small_index: Settings, tmp_path: Path
) -> None:
    records = [
        {"id": "a0", "kind": "name", "question": "Which partners were involved?",
         "doc_id": "beta", "evidence": "Mayors Mechanism", "part": "body"},
        {"id": "a1", "kind": "number", "question": "How large was the bonus on transfers?",
         "doc_id": "alpha", "evidence": "Banks offered a 2% bonus on transfers.", "part": "body"},
        {"id": "u0", "kind": "unanswerable", "question": "Lunar mining labour?",
         "doc_id": None, "evidence": None, "part": None},
    ]  # fmt: skip
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    env = {
        "IOMQA_CORPUS_DIR": str(small_index.corpus_dir),
        "IOMQA_INDEX_DIR": str(small_index.index_dir),
    }
    fitted = iomqa(
        "eval", "--fit-adapter", "--calibrate", "--no-baselines", "--mode", "fast",
        "--questions", str(questions), env=env,
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    # The adapter first: the calibration reads signals of adapted questions.
    assert 0 <= fitted.stderr.index("query adapter fitted") < fitted.stderr.index("fast: refitted")
    assert (small_index.index_dir / ADAPTERS / file_name("hashing-64")).is_file()
    for setting, adapted in (("true", True), ("false", False)):
        asked = iomqa(
            "ask", "bonus", "--json", "--mode", "fast", env=env | {"IOMQA_QUERY_ADAPTER": setting}
        )
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["stages"]["adapted"] is adapted
