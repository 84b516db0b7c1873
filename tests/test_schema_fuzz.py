"""Schema fuzzing: schemathesis generates requests from the service's own OpenAPI schema
(valid and invalid ones) and checks that no answer is a server error (other than the
documented 503s) or differs from what the schema promises."""

import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import positive_data_acceptance

from core.settings import Settings
from service.app import create_app

TOKEN = "fuzz-token"

# The schema only; requests go to the app of the `app` fixture, over a real index. Read
# at collection, before any fixture sets the test settings, and schemathesis starts the
# app to read it: so no cross-encoder, or the default one would be tuned here first.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(admin_token=SecretStr(TOKEN), reranker="none"))
).exclude(method="POST", path_regex=r"^/admin/(documents|ingest)$")
# These two start background ingests; tests/test_admin.py covers them directly.


@pytest.fixture(scope="module")
def app(real_corpus_fake_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    root = Path(tmp_path_factory.mktemp("fuzz"))
    shutil.copytree(real_corpus_fake_index.corpus_dir, root / "corpus")
    shutil.copytree(real_corpus_fake_index.index_dir, root / "index")
    app_settings = real_corpus_fake_index.model_copy(
        update={
            "corpus_dir": root / "corpus",
            "index_dir": root / "index",
            "admin_token": SecretStr(TOKEN),
            "reload_interval": 0,
        }
    )
    return create_app(app_settings)


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_endpoint_keeps_its_schema(app: FastAPI, case: schemathesis.Case) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.path.startswith("/admin") else None
    excluded = []
    if (case.method, case.path) == ("POST", "/ask"):
        # Filters naming a document the index does not hold fit the schema but are refused
        # with 422 (listing the known ones) by design.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(app=app, headers=headers, excluded_checks=excluded)
