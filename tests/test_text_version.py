"""The text version follows the text-shaping code and nothing else."""

import inspect
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ingest import heading_rules
from ingest.pipeline import TEXT_VERSION, process, to_document
from ingest.text_version import (
    TEXT_SHAPING_MODULES,
    derive_text_version,
    source_text,
    text_shaping_parts,
)

ROOT = Path(__file__).resolve().parents[1]
PRINT_VERSION = (
    "import ingest.pipeline as p, ingest.heading_rules as h; print(p.TEXT_VERSION, h.__file__)"
)


def installed_parts() -> dict[str, str]:
    return text_shaping_parts(to_document, process)


def test_the_version_is_derived_from_the_installed_text_shaping_code() -> None:
    parts = installed_parts()
    assert derive_text_version(parts) == TEXT_VERSION
    assert parts["ingest.heading_rules"] == inspect.getsource(heading_rules)
    assert "ingest.pipeline.to_document" in parts and "library pypdf" in parts
    # stored in the manifest's JSON as a number, compared as one
    assert isinstance(TEXT_VERSION, int) and 0 <= TEXT_VERSION < 2**53


def test_a_changed_rule_changes_the_version() -> None:
    parts = installed_parts()
    rule = inspect.getsource(heading_rules.questionnaire_item)
    assert rule in parts["ingest.heading_rules"]
    changed = rule.replace("MAX_QUESTION_HEADING_CHARS", "MAX_HEADING_CHARS")
    assert changed != rule
    edited = parts | {"ingest.heading_rules": parts["ingest.heading_rules"].replace(rule, changed)}
    assert derive_text_version(edited) != derive_text_version(parts)


def test_every_part_counts_and_nothing_else() -> None:
    parts = installed_parts()
    base = derive_text_version(parts)
    for name in parts:
        assert derive_text_version(parts | {name: parts[name] + " "}) != base, name
    assert derive_text_version(dict(reversed(parts.items()))) == base
    windows = {name: text.replace("\n", "\r\n") for name, text in parts.items()}
    assert derive_text_version(windows) == base
    assert derive_text_version({"a": "bc"}) != derive_text_version({"ab": "c"})


def test_every_module_that_shapes_the_text_is_covered() -> None:
    names = {module.__name__ for module in TEXT_SHAPING_MODULES}
    assert {"ingest.clean", "ingest.furniture", "ingest.heading_rules", "ingest.sections"} <= names
    assert {"ingest.chunk", "ingest.load", "ingest.pdf"} <= names


def test_code_without_installed_source_is_refused() -> None:
    with pytest.raises(RuntimeError, match="no source installed for nowhere"):
        source_text(types.ModuleType("nowhere"))


def run_version(env_path: str | None, cwd: Path, seed: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    if env_path is not None:
        env["PYTHONPATH"] = env_path
    out = subprocess.run(
        [sys.executable, "-c", PRINT_VERSION],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), out[1]


def test_the_version_is_the_same_in_other_processes(tmp_path: Path) -> None:
    versions = {run_version(None, tmp_path, seed)[0] for seed in ("1", "2")}
    assert versions == {TEXT_VERSION}


def test_the_version_does_not_depend_on_where_the_package_is_installed(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    for package in ("core", "ingest"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("*.pyc"))
    version, loaded_from = run_version(str(site), tmp_path, "3")
    assert Path(loaded_from).is_relative_to(site)
    assert version == TEXT_VERSION
