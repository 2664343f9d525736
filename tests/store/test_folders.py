"""The store's folder objects: the paths they give, the records they write and read back, the claim."""

from __future__ import annotations

import json
import os

import pytest

from adamnode.errors import ConfigError, DamagedFile
from adamnode.store import ComparisonFolder, RunFolder, claimed, is_main_process, read_manifest


def test_a_run_folder_writes_its_records_and_reads_them_back(tmp_path):
    run = RunFolder(tmp_path)
    assert not run.is_run() and not run.has_checkpoint() and not run.has_summary()
    run.write_description({"settings": {"model": "node"}})
    run.write_summary({"status": "complete", "epochs_completed": 2})
    assert run.is_run() and run.has_summary()
    assert run.read_description() == {"settings": {"model": "node"}}
    assert run.read_summary(("status", "epochs_completed"))["epochs_completed"] == 2


@pytest.mark.parametrize("content, named", [("{", "Expecting"), ("[1, 2]", "not a JSON object"),
                                            ('{"status": "complete"}', "no error")])
def test_a_damaged_record_is_one_error_naming_the_file_and_what_it_lacks(tmp_path, content, named):
    run = RunFolder(tmp_path)
    run.summary.write_text(content)
    with pytest.raises(DamagedFile) as error:
        run.read_summary(("status", "error"))
    assert str(run.summary) in str(error.value) and named in str(error.value)
    assert "\n" not in str(error.value)


def test_a_comparison_gives_its_runs_only_by_plain_names_inside_it(tmp_path):
    comparison = ComparisonFolder(tmp_path)
    assert comparison.run("node-seed0") == RunFolder(tmp_path / "node-seed0")
    for name in ("../elsewhere", "a/b", "..", ""):
        with pytest.raises(DamagedFile, match="not a plain name"):
            comparison.run(name)
    comparison.write_record({"task": "spheres"})
    assert comparison.read_record() == {"task": "spheres"}
    comparison.record.write_text("[]")
    with pytest.raises(DamagedFile, match="not a JSON object"):
        comparison.read_record()


def test_only_rank_zero_writes(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()


def test_a_claim_creates_records_and_replaces_only_what_adamnode_wrote(tmp_path):
    out = tmp_path / "new" / "out"
    with claimed(out, ["a.txt"]) as claim:
        claim.take()
        (out / "a.txt").write_text("first")
    (out / "mine.txt").write_text("the user's")
    with pytest.raises(ConfigError, match="already exists"):
        with claimed(out, ["a.txt"]):
            pass
    with claimed(out, ["b.txt"], overwrite=True) as claim:
        claim.take()
    assert sorted(os.listdir(out)) == [".adamnode-files.json", "mine.txt"]
    assert read_manifest(out)["files"] == ["b.txt"] and read_manifest(out)["created"] is True
    assert json.loads((out / ".adamnode-files.json").read_text())["format"] == "adamnode-files"


def test_a_claim_whose_work_fails_before_it_takes_the_folder_removes_what_it_created(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with claimed(out, ["a.txt"]):
            raise RuntimeError("the data failed its check")
    assert not (tmp_path / "new").exists()
