"""The manifest that describes and checks one index generation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt
from ingest.load import sha256_file

SCHEMA_VERSION = 2
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    index_version: str
    created_at: str
    model: str
    dimension: int
    documents: int
    passages: int
    # source -> {"doc_id", "sha256" of the file, "fingerprint" of file and metadata}
    corpus: dict[str, dict[str, str]]
    files: dict[str, str]  # artifact file name -> sha256
    chunking: dict[str, int] = field(default_factory=dict)
    # source -> {"fingerprint", "status", "reason"} of files that could not be indexed,
    # so that an unchanged bad file is reported again without being parsed again
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    # "passages" / "sentences" -> dense.DenseSpec as a dict; absent means exact (flat)
    dense: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise IndexCorrupt(f"manifest is not valid: {exc}") from exc


def read_manifest(generation: Path) -> Manifest:
    path = generation / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IndexCorrupt(f"{path}: cannot read manifest: {exc}") from exc
    manifest = Manifest.from_json(text)
    if manifest.schema_version != SCHEMA_VERSION:
        raise IndexCorrupt(
            f"{path}: schema version {manifest.schema_version}, this iomqa reads "
            f"{SCHEMA_VERSION}; rebuild with `iomqa ingest --rebuild`"
        )
    return manifest


def verify_files(generation: Path, manifest: Manifest) -> None:
    """Every artifact exists with the checksum the manifest recorded."""
    for name, expected in sorted(manifest.files.items()):
        path = generation / name
        if not path.is_file():
            raise IndexCorrupt(f"{generation.name}: {name} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise IndexCorrupt(
                f"{generation.name}: {name} checksum {actual[:12]}… does not match the "
                f"manifest's {expected[:12]}…"
            )
