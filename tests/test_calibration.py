"""Confidence calibrations belong to the models whose signals they were fitted on."""

import json
import logging
from pathlib import Path

import pytest

from core.models import DEFAULT_MODEL, DEFAULT_RERANKER, MS_MARCO_RERANKER
from core.records import Mode
from core.settings import Settings
from index.confidence import (
    CALIBRATIONS,
    FEATURES,
    PACKAGED_CALIBRATIONS,
    RERANK_FEATURES,
    Calibration,
    calibration_for,
    default_calibration,
    file_name,
    find_calibration,
    load,
    save,
)
from index.searcher import Searcher
from iomqa.evaluation.calibrate import refit
from iomqa.evaluation.harness import Question
from tests.test_rerank import KeywordReranker


def calibration(embedder: str, reranker: str | None = None, bias: float = 0.0) -> Calibration:
    return Calibration(dict.fromkeys(FEATURES, 0.0), bias, embedder=embedder, reranker=reranker)


def test_a_saved_calibration_loads_back_under_its_models_name(tmp_path: Path) -> None:
    original = calibration("org/model@onnx", MS_MARCO_RERANKER.model_id, bias=0.3)
    path = save(original, tmp_path)
    assert path.name == file_name("org/model@onnx", MS_MARCO_RERANKER.model_id)
    assert "/" not in path.name and path.name != file_name("org/model@onnx", None)
    assert load(path) == original


def test_the_shipped_default_is_the_default_embedders_in_fast_mode() -> None:
    shipped = default_calibration()
    assert (shipped.embedder, shipped.reranker) == (DEFAULT_MODEL, None)
    assert (PACKAGED_CALIBRATIONS / file_name(DEFAULT_MODEL, None)).is_file()


def test_the_default_models_ship_a_precise_calibration_fitted_for_them() -> None:
    shipped = find_calibration([PACKAGED_CALIBRATIONS], DEFAULT_MODEL, DEFAULT_RERANKER)
    assert shipped is not None
    assert (shipped.embedder, shipped.reranker) == (DEFAULT_MODEL, DEFAULT_RERANKER)
    assert set(shipped.weights) == set(RERANK_FEATURES)


def test_the_exact_models_win_then_the_same_embedder_then_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own, shipped = tmp_path / "own", tmp_path / "shipped"
    save(calibration("e", None, bias=1.0), shipped)
    save(calibration("e", "r", bias=2.0), shipped)
    save(calibration("e", "r", bias=3.0), own)
    assert calibration_for([own, shipped], "e", "r").bias == 3.0
    assert calibration_for([shipped], "e", "r").bias == 2.0
    with caplog.at_level(logging.WARNING):
        assert calibration_for([own, shipped], "e", "other").bias == 1.0
        assert calibration_for([own], "unknown", None) == default_calibration()
    assert "no confidence calibration for e with other" in caplog.text
    assert find_calibration([own], "unknown", None) is None


def test_the_searcher_reads_each_modes_calibration_from_the_index_folder(
    small_index: Settings,
) -> None:
    folder = small_index.index_dir / CALIBRATIONS
    save(calibration("hashing-64", None, bias=-2.0), folder)
    precise = Calibration(
        {**dict.fromkeys(FEATURES, 0.0), "rerank": 1.0},
        0.0,
        embedder="hashing-64",
        reranker="keyword-reranker",
    )
    save(precise, folder)
    searcher = Searcher.open_current(small_index.index_dir, reranker=KeywordReranker("partners"))
    fast = searcher.search("Which partners were involved?", 3, mode=Mode.FAST)
    assert fast.confidence == pytest.approx(1 / (1 + 2.718281828459045**2))
    sure = searcher.search("Which partners were involved?", 3)
    # The stand-in gives 9 to the passage under "Which partners were involved?": sigmoid(9).
    assert sure.signals.rerank == 9.0 and sure.confidence == pytest.approx(0.9998766, abs=1e-6)


def test_refitting_writes_the_operators_calibrations_not_the_shipped_ones(
    small_index: Settings,
) -> None:
    shipped = {p.name: p.read_bytes() for p in PACKAGED_CALIBRATIONS.iterdir()}
    questions = [
        Question(f"a{i}", "name", q, "beta", "Mayors Mechanism", "body")
        for i, q in enumerate(["Which partners were involved?", "Who collected census data?"])
    ] + [
        Question(f"u{i}", "unanswerable", q, None, None, None)
        for i, q in enumerate(["Rabat Process visa quotas for H-2A?", "Lunar mining labour?"])
    ]
    report = refit(small_index, questions, "four questions")
    written = sorted(p.name for p in (small_index.index_dir / CALIBRATIONS).iterdir())
    assert written == sorted(
        [file_name("hashing-64", None), file_name("hashing-64", MS_MARCO_RERANKER.model_id)]
    )
    precise = json.loads((small_index.index_dir / CALIBRATIONS / written[-1]).read_text())
    assert (
        "rerank" in precise["weights"]
        or "rerank"
        in json.loads((small_index.index_dir / CALIBRATIONS / written[0]).read_text())["weights"]
    )
    assert "fast:" in report and "precise:" in report
    assert {p.name: p.read_bytes() for p in PACKAGED_CALIBRATIONS.iterdir()} == shipped
