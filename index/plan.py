"""What an incremental build does with each corpus file, decided before anything is done.

The plan compares the scanned corpus with the served generation's manifest and nothing
else: no file is read, no document parsed, no vector computed. index/build.py carries
it out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ingest.corpus import CorpusFile

# Failures that depend on limits or installed packages rather than on the file itself:
# tried again on every ingest instead of being carried forward.
RETRY_STATUSES = frozenset({"timeout", "too_large", "missing_dependency"})

# A manifest entry: source -> {"doc_id", "sha256", "fingerprint"} for indexed files,
# source -> {"fingerprint", "status", "reason"} for files that could not be indexed.
Entries = Mapping[str, Mapping[str, str]]


def fingerprint(file: CorpusFile, content_hash: str) -> str:
    """File content and its manifest entry: a metadata edit re-indexes the document."""
    entry = json.dumps(
        {
            "doc_id": file.entry.doc_id,
            "password": file.entry.password,
            "metadata": file.entry.metadata,
        },
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(f"{content_hash}\x1f{entry}".encode()).hexdigest()


@dataclass(frozen=True)
class ScannedFile:
    """A corpus file as the planner sees it: what it is now, under which id."""

    file: CorpusFile
    doc_id: str
    content_hash: str  # sha256 of the file
    fingerprint: str  # fingerprint(file, content_hash)

    @property
    def source(self) -> str:
        return self.file.source


class Action(StrEnum):
    REUSE = "reuse"  # unchanged: its document and passages come from the served generation
    PARSE = "parse"  # added, changed, or a failure worth trying again
    KEEP_FAILURE = "keep_failure"  # unchanged and failed for a reason of its own: reported again


@dataclass(frozen=True)
class Step:
    scanned: ScannedFile
    action: Action
    # KEEP_FAILURE: the previous manifest's entry, carried into the new one as it is.
    kept_failure: Mapping[str, str] | None = None


@dataclass(frozen=True)
class BuildPlan:
    steps: tuple[Step, ...]  # one per scanned file, in scan order
    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]  # sorted

    @property
    def changes_corpus(self) -> bool:
        """False when the served generation already holds what this build would write."""
        return bool(self.added or self.changed or self.removed)


def plan_build(scanned: Sequence[ScannedFile], corpus: Entries, failed: Entries) -> BuildPlan:
    """The build's decisions, from the scanned files and the previous manifest's
    `corpus` (indexed files) and `failed` (files that could not be indexed) maps;
    both are empty when there is no generation to start from."""
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    steps: list[Step] = []
    for file in scanned:
        before = corpus.get(file.source) or failed.get(file.source)
        if before is None:
            added.append(file.source)
            steps.append(Step(file, Action.PARSE))
        elif _is_unchanged(file, before, failed_before=file.source in failed):
            unchanged.append(file.source)
            steps.append(_unchanged_step(file, corpus, failed))
        else:
            changed.append(file.source)
            steps.append(Step(file, Action.PARSE))
    present = {f.source for f in scanned}
    removed = sorted((corpus.keys() | failed.keys()) - present)
    return BuildPlan(tuple(steps), tuple(added), tuple(changed), tuple(unchanged), tuple(removed))


def _is_unchanged(file: ScannedFile, before: Mapping[str, str], *, failed_before: bool) -> bool:
    if before.get("fingerprint") != file.fingerprint:
        return False
    # Derived doc ids depend on the other files (a clash gives one a suffix), so an id can
    # change while the file and its metadata do not. Passage ids are built from the doc id:
    # passages reused under the old id would be wrong, so the file counts as changed. A
    # failed file has no passages and its entry records no id: only its fingerprint counts.
    return failed_before or before.get("doc_id") == file.doc_id


def _unchanged_step(file: ScannedFile, corpus: Entries, failed: Entries) -> Step:
    failure = failed.get(file.source)
    # A file that failed for a reason of its own (encrypted, corrupt, no text …) fails the
    # same way while it is unchanged: parsing it again would only cost time. Limits and
    # installed packages can change between ingests, so RETRY_STATUSES are tried again.
    if failure is not None and failure["status"] not in RETRY_STATUSES:
        return Step(file, Action.KEEP_FAILURE, failure)
    if file.source in corpus:
        return Step(file, Action.REUSE)
    return Step(file, Action.PARSE)


__all__ = [
    "RETRY_STATUSES",
    "Action",
    "BuildPlan",
    "ScannedFile",
    "Step",
    "fingerprint",
    "plan_build",
]
