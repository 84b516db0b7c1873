"""The build plan on its own: scanned files and the previous manifest in, decisions out."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from index.plan import RETRY_STATUSES, Action, BuildPlan, ScannedFile, fingerprint, plan_build
from ingest.corpus import CorpusEntry, CorpusFile


def scanned(
    source: str, content: str = "v1", doc_id: str | None = None, **meta: str
) -> ScannedFile:
    file = CorpusFile(Path("corpus") / source, source, CorpusEntry(metadata=meta or None))
    content_hash = f"sha-{content}"
    return ScannedFile(
        file, doc_id or source.split(".")[0], content_hash, fingerprint(file, content_hash)
    )


def indexed(file: ScannedFile) -> dict[str, str]:
    """The previous manifest's `corpus` entry of a file indexed as it is now."""
    return {"doc_id": file.doc_id, "sha256": file.content_hash, "fingerprint": file.fingerprint}


def failure(file: ScannedFile, status: str) -> dict[str, str]:
    """The previous manifest's `failed` entry of a file that failed as it is now."""
    return {"fingerprint": file.fingerprint, "status": status, "reason": f"{status} because"}


def actions(plan: BuildPlan) -> dict[str, Action]:
    return {step.scanned.source: step.action for step in plan.steps}


def test_a_first_build_parses_every_file_as_added() -> None:
    files = [scanned("a.md"), scanned("b.txt")]
    plan = plan_build(files, {}, {})
    assert actions(plan) == {"a.md": Action.PARSE, "b.txt": Action.PARSE}
    assert plan.added == ("a.md", "b.txt") and not (plan.changed or plan.unchanged or plan.removed)
    assert plan.changes_corpus


def test_an_unchanged_file_is_reused_and_changes_nothing() -> None:
    a = scanned("a.md")
    plan = plan_build([a], {"a.md": indexed(a)}, {})
    assert actions(plan) == {"a.md": Action.REUSE} and plan.unchanged == ("a.md",)
    assert not plan.changes_corpus


def test_new_content_is_parsed_as_changed() -> None:
    before = scanned("a.md", "v1")
    plan = plan_build([scanned("a.md", "v2")], {"a.md": indexed(before)}, {})
    assert actions(plan) == {"a.md": Action.PARSE} and plan.changed == ("a.md",)


def test_a_metadata_edit_is_a_change() -> None:
    before = scanned("a.md", year="2020")
    plan = plan_build([scanned("a.md", year="2021")], {"a.md": indexed(before)}, {})
    assert actions(plan) == {"a.md": Action.PARSE} and plan.changed == ("a.md",)


def test_a_new_doc_id_for_the_same_file_is_a_change() -> None:
    # A derived id can move when another file takes it; the passage ids move with it.
    before = scanned("b.txt", doc_id="b")
    plan = plan_build([scanned("b.txt", doc_id="b-txt")], {"b.txt": indexed(before)}, {})
    assert actions(plan) == {"b.txt": Action.PARSE} and plan.changed == ("b.txt",)


def test_a_removed_file_is_listed_and_gets_no_step() -> None:
    a, gone, bad = scanned("a.md"), scanned("gone.md"), scanned("bad.pdf")
    plan = plan_build(
        [a],
        {"a.md": indexed(a), "gone.md": indexed(gone)},
        {"bad.pdf": failure(bad, "corrupt")},
    )
    assert plan.removed == ("bad.pdf", "gone.md") and actions(plan) == {"a.md": Action.REUSE}
    assert plan.changes_corpus


def test_an_unchanged_file_that_failed_for_its_own_reason_keeps_its_failure() -> None:
    bad = scanned("bad.pdf")
    entry = failure(bad, "corrupt")
    plan = plan_build([bad], {}, {"bad.pdf": entry})
    (step,) = plan.steps
    assert step.action is Action.KEEP_FAILURE and step.kept_failure == entry
    assert plan.unchanged == ("bad.pdf",) and not plan.changes_corpus


def test_a_failed_file_keeps_its_failure_under_a_new_doc_id() -> None:
    # A failure has no passages, so only the file and its entry decide.
    bad = scanned("bad.pdf", doc_id="bad")
    plan = plan_build(
        [scanned("bad.pdf", doc_id="bad-pdf")], {}, {"bad.pdf": failure(bad, "encrypted")}
    )
    assert actions(plan) == {"bad.pdf": Action.KEEP_FAILURE} and plan.unchanged == ("bad.pdf",)


def test_a_failure_of_limits_or_packages_is_tried_again() -> None:
    for status in sorted(RETRY_STATUSES):
        slow = scanned("slow.pdf")
        plan = plan_build([slow], {}, {"slow.pdf": failure(slow, status)})
        (step,) = plan.steps
        assert step.action is Action.PARSE and step.kept_failure is None, status
        assert plan.unchanged == ("slow.pdf",)


def test_a_fixed_file_that_had_failed_is_parsed_as_changed() -> None:
    bad = scanned("bad.pdf", "broken")
    plan = plan_build([scanned("bad.pdf", "repaired")], {}, {"bad.pdf": failure(bad, "corrupt")})
    assert actions(plan) == {"bad.pdf": Action.PARSE} and plan.changed == ("bad.pdf",)


NAMES = st.sampled_from(["a.md", "b.txt", "c.pdf", "d.md", "e.pdf", "f.txt"])
STATUSES = st.sampled_from(["corrupt", "encrypted", "no_text", *sorted(RETRY_STATUSES)])


@st.composite
def corpora(
    draw: st.DrawFn,
) -> tuple[list[ScannedFile], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """A corpus now and a previous manifest that overlaps it in every possible way."""
    present = sorted(draw(st.sets(NAMES)))
    files = [scanned(s, draw(st.sampled_from(["v1", "v2"]))) for s in present]
    corpus: dict[str, dict[str, str]] = {}
    failed: dict[str, dict[str, str]] = {}
    for source in sorted(draw(st.sets(NAMES))):
        before = scanned(source, draw(st.sampled_from(["v1", "v2"])))
        if draw(st.booleans()):
            corpus[source] = indexed(before)
        else:
            failed[source] = failure(before, draw(STATUSES))
    return files, corpus, failed


@given(corpora())
def test_every_file_gets_one_step_and_one_kind_of_change(
    case: tuple[list[ScannedFile], dict[str, dict[str, str]], dict[str, dict[str, str]]],
) -> None:
    files, corpus, failed = case
    plan = plan_build(files, corpus, failed)
    sources = [f.source for f in files]
    assert [step.scanned for step in plan.steps] == files
    assert sorted(plan.added + plan.changed + plan.unchanged) == sorted(sources)
    assert set(plan.removed) == (corpus.keys() | failed.keys()) - set(sources)
    assert list(plan.removed) == sorted(plan.removed)
    for step in plan.steps:
        source = step.scanned.source
        assert (step.kept_failure is not None) == (step.action is Action.KEEP_FAILURE)
        if step.action is not Action.PARSE:  # only an unchanged file is spared parsing
            assert source in plan.unchanged
        if step.action is Action.REUSE:
            assert source in corpus
        if source in failed and failed[source]["status"] in RETRY_STATUSES:
            assert step.action is Action.PARSE
    assert plan.changes_corpus == bool(plan.added or plan.changed or plan.removed)
