"""Shared fixtures: every test writes under tmp_path, and unit tests embed with a
deterministic hashing embedder instead of the model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.models import MS_MARCO_RERANKER
from core.settings import Settings, get_settings
from index.build import BuildConfig, BuildReport, build_index
from ingest.embed import HashingEmbedder

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
FAKE_MODEL = "hashing-64"

SMALL_DOCS = {
    "alpha.md": """# Alpha report on migration data

## 1. Introduction

Migration data matter for policy. Countries collect census data on migrants.
The report was written in Geneva.

## 2. Findings

### 2.1 Remittances

Remittances reached USD 5,000 in the pilot. Banks offered a 2% bonus on transfers.

### 2.2 Health

Migrants need access to health services regardless of status.
""",
    "beta.txt": """BETA SUBMISSION

Q1. How did the pandemic change priorities?

The pandemic reversed development gains and altered human mobility dynamics.
Border restrictions disrupted travel.

Q2. Which partners were involved?

The Mayors Mechanism involved United Cities and Local Governments.
""",
}

SMALL_MANIFEST = """
["alpha.md"]
doc_id = "alpha"
title = "Alpha report on migration data"
year = 2020
series = "Test Series"
number = 7
publisher = "International Organization for Migration (IOM), Geneva"
author = "International Organization for Migration (IOM)"
type = "IDM report"
"""


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX exports are made once per test session, not per test."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session", autouse=True)
def _packaged_cross_encoder() -> Iterator[None]:
    """The packaged cross-encoder as shipped, in every test and every process a test
    starts, module and session fixtures included: the default tunes it first (minutes on
    two cores), and that tuning is tested on a tiny model in test_tune_reranker.py."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IOMQA_RERANKER", MS_MARCO_RERANKER.model_id)
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path
) -> Iterator[None]:
    """No test reads or writes the developer's index, corpus or model cache by accident."""
    monkeypatch.setenv("IOMQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("IOMQA_CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.setenv("IOMQA_MODEL", FAKE_MODEL)
    monkeypatch.setenv("IOMQA_MODEL_CACHE_DIR", str(model_cache))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder(64)


def write_small_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "corpus.toml").write_text(SMALL_MANIFEST, encoding="utf-8")
    return folder


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    return write_small_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=FAKE_MODEL)


def build(
    settings: Settings, embedder: HashingEmbedder | None = None, *, rebuild: bool = False
) -> BuildReport:
    config = BuildConfig(
        corpus_dir=settings.corpus_dir, index_dir=settings.index_dir, rebuild=rebuild
    )
    return build_index(config, embedder or HashingEmbedder(64))


@pytest.fixture
def small_index(small_corpus: Path, settings: Settings) -> Settings:
    report = build(settings)
    assert report.published
    return settings


@pytest.fixture
def own_real_corpus_index(real_corpus_fake_index: Settings, tmp_path: Path) -> Settings:
    """A private copy of the real corpus with its own index, for tests that change them."""
    s = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=FAKE_MODEL)
    shutil.copytree(real_corpus_fake_index.corpus_dir, s.corpus_dir)
    assert build(s).published
    return s


@pytest.fixture(scope="session")
def real_corpus_fake_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real corpus indexed with the hashing embedder (fast; for API and citation tests)."""
    root = tmp_path_factory.mktemp("realcorpus")
    shutil.copytree(CORPUS, root / "corpus")
    s = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model=FAKE_MODEL)
    assert build(s).published
    return s
