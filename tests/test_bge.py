"""bge-small-en-v1.5 as the first-stage embedder, the question prefix, and indexes that
refuse a model other than the one they were built with."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.errors import IndexCorrupt, ModelError
from core.models import BGE_MODEL, BGE_QUERY_PREFIX, BGE_SMALL
from core.settings import Settings
from index.build import BuildConfig, build_index
from index.generations import GENERATIONS, current_version
from index.searcher import Searcher
from ingest.embed import BatchingEmbedder, HashingEmbedder, LazyEmbedder, make_embedder
from ingest.packaged_encoder import PackagedEmbedder
from ingest.vectors import Vectors
from service.app import create_app
from service.reload import SearcherHolder

PASSAGES = [
    "Paris is the capital of France.",
    "Berlin is the capital of Germany.",
    "GCM",
    "Remittances sent home by migrant workers fell during the pandemic, and the Dialogue "
    "asked States to lower transfer costs below three per cent. " * 3,
    "",
]


@pytest.fixture(scope="module")
def bge() -> PackagedEmbedder:
    embedder = make_embedder(BGE_MODEL)
    assert isinstance(embedder, PackagedEmbedder)
    return embedder


def test_the_setting_names_the_packaged_bge(bge: PackagedEmbedder) -> None:
    assert (bge.name, bge.dimension, bge.query_prefix) == (BGE_MODEL, 384, BGE_QUERY_PREFIX)
    assert BGE_MODEL.startswith(BGE_SMALL.model_id)
    assert Settings(model=BGE_MODEL).model == BGE_MODEL


@pytest.mark.parametrize("backend", ["", "@onnx", "@torch"])
def test_bge_on_another_backend_is_refused_not_loaded_with_other_weights(backend: str) -> None:
    with pytest.raises(ModelError, match="int8 ONNX only"):
        make_embedder(BGE_SMALL.model_id + backend)


def test_the_question_finds_its_answer_with_unit_vectors(bge: PackagedEmbedder) -> None:
    question = bge.encode([bge.query_prefix + "What is the capital of France?"])[0]
    passages = bge.encode(PASSAGES)
    assert passages.shape == (len(PASSAGES), 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    paris, berlin = passages[:2] @ question
    assert paris > berlin + 0.1


def test_the_prefix_changes_the_question_vector(bge: PackagedEmbedder) -> None:
    bare, prefixed = bge.encode(["capital of France", bge.query_prefix + "capital of France"])
    assert float(bare @ prefixed) < 0.99


def test_a_batch_gives_each_text_the_vector_it_gets_alone(bge: PackagedEmbedder) -> None:
    alone = np.vstack([bge.encode([text]) for text in PASSAGES])
    for batch_size in (1, 2, 8):
        together = bge.encode(PASSAGES, batch_size=batch_size)
        assert np.abs(together - alone).max() < 1e-5
    assert np.abs(bge.encode(PASSAGES[::-1])[::-1] - alone).max() < 1e-5


def test_wrappers_forward_the_prefix(bge: PackagedEmbedder) -> None:
    assert LazyEmbedder(BGE_MODEL, lambda: bge).query_prefix == BGE_QUERY_PREFIX
    assert BatchingEmbedder(bge).query_prefix == BGE_QUERY_PREFIX
    assert HashingEmbedder(16).query_prefix == ""
    assert (
        BatchingEmbedder(LazyEmbedder("hashing-16", lambda: HashingEmbedder(16))).query_prefix == ""
    )


class Spy(HashingEmbedder):
    """The hashing embedder with a question prefix, recording every text it encodes."""

    def __init__(self) -> None:
        super().__init__(64)
        self.seen: list[str] = []

    @property
    def query_prefix(self) -> str:
        return "query: "

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        self.seen += texts
        return super().encode(texts, batch_size=batch_size)


def test_questions_carry_the_prefix_and_passages_do_not(
    small_corpus: Path, settings: Settings
) -> None:
    spy = Spy()
    config = BuildConfig(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir)
    assert build_index(config, spy).published
    assert spy.seen and not any(t.startswith("query: ") for t in spy.seen)
    spy.seen.clear()
    searcher = Searcher.open(_generation(settings), spy)
    assert searcher.search("remittances bonus", 3).hits
    searcher.close()
    assert spy.seen == ["query: remittances bonus"]


def _generation(settings: Settings) -> Path:
    return settings.index_dir / GENERATIONS / str(current_version(settings.index_dir))


def test_an_index_opened_with_another_model_names_both_and_the_fix(small_index: Settings) -> None:
    message = (
        r"built with model 'hashing-64' \(dimension 64\), but questions would be embedded "
        r"with 'hashing-32' \(dimension 32\).*IOMQA_MODEL.*iomqa ingest --rebuild"
    )
    with pytest.raises(IndexCorrupt, match=message):
        Searcher.open(_generation(small_index), HashingEmbedder(32))


def test_the_service_refuses_an_index_of_another_model_than_configured(
    small_index: Settings,
) -> None:
    holder = SearcherHolder(small_index.index_dir, small_index.model_source, model="hashing-32")
    assert holder.reload() is False and holder.current is None
    error = holder.unavailable()
    assert isinstance(error, IndexCorrupt)
    assert "'hashing-64'" in str(error) and "'hashing-32'" in str(error)
    configured = small_index.model_copy(update={"model": "hashing-32"})
    with TestClient(create_app(configured)) as client:
        response = client.post("/ask", json={"question": "remittances", "top_k": 3})
    assert response.status_code == 503
    assert "hashing-64" in response.json()["detail"]
    assert "iomqa ingest --rebuild" in response.json()["detail"]


def test_the_service_serves_an_index_of_the_configured_model(small_index: Settings) -> None:
    holder = SearcherHolder(small_index.index_dir, small_index.model_source, model="hashing-64")
    assert holder.reload() is True and holder.current is not None
    assert holder.current.embedder.name == "hashing-64"
