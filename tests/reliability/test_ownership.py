"""Ownership: --overwrite removes only what adamnode recorded, refuses folders it must never clear,
and replaces a run only once the new one has loaded and passed its checks."""

from __future__ import annotations

import json
import subprocess
import sys

from adamnode.training.checkpoint import load_checkpoint

from cli_helpers import TINY, adamnode, one_line_error

MANIFEST_FILE = ".adamnode-files.json"  # as adamnode.store names it


def tree(folder) -> dict:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_overwrite_never_deletes_the_users_files(tmp_path):
    # A folder of the user's own files, two of them with the names adamnode writes.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "checkpoint.pt").write_bytes(b"my own checkpoint")
    (mine / "comparison.json").write_text('{"mine": true}')
    (mine / "notes.txt").write_text("keep me")
    before = tree(mine)
    for command in (("train", "--model", "node"), ("compare", "--models", "node")):
        result = adamnode(*command, *TINY, "--out", str(mine), "--overwrite")
        assert result.returncode == 2 and "did not write" in one_line_error(result)
        assert tree(mine) == before

    # A run folder of adamnode's into which the user put a file: the run is replaced, the file stays.
    run = tmp_path / "run"
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(run)).returncode == 0
    (run / "notes.txt").write_text("keep me too")
    result = adamnode("train", "--model", "hbnode", *TINY, "--epochs", "1", "--out", str(run), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (run / "notes.txt").read_text() == "keep me too"
    assert load_checkpoint(run / "checkpoint.pt")["settings"]["model"] == "hbnode"


def test_overwrite_refuses_the_current_folder_and_those_above_it(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "code.py").write_text("print('mine')")
    # Even a folder adamnode wrote itself is refused when it is the working folder.
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", ".", cwd=project).returncode != 0
    before = tree(project)
    for out in (".", "..", str(tmp_path)):
        result = adamnode("train", "--model", "node", *TINY, "--out", out, "--overwrite", cwd=project / "src")
        assert result.returncode == 2, result.stderr
        assert "current folder or a folder above it" in one_line_error(result)
    assert tree(project) == before


def test_a_rejected_new_run_leaves_the_old_one_untouched(tmp_path):
    run = tmp_path / "run"
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(run)).returncode == 0
    before = tree(run)
    # The new run's data check fails (a subset larger than the data): the old run must survive it.
    result = adamnode("train", "--model", "hbnode", *TINY, "--out", str(run), "--overwrite", "--train-subset", "100000")
    assert result.returncode == 2 and "train_subset" in one_line_error(result)
    assert tree(run) == before


def test_kill_9_during_the_first_checkpoint_write_leaves_a_folder_overwrite_accepts(tmp_path):
    out = tmp_path / "run"
    # The process dies by SIGKILL in the middle of writing its very first checkpoint.
    script = f"""
import os, signal, torch
import adamnode.training.checkpoint as checkpoint
def half_then_die(payload, stream):
    stream.write(b"PK half a checkpoint")
    stream.flush()
    os.kill(os.getpid(), signal.SIGKILL)
checkpoint.torch.save = half_then_die
from adamnode.cli import main
main(["train", "--model", "node", "--preset", "tiny", "--out", {str(out)!r}])
"""
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "checkpoint.pt").exists()
    resumed = adamnode("train", "--resume", str(out))
    assert resumed.returncode == 1 and "--overwrite" in one_line_error(resumed)
    result = adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(out), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]


def test_compare_overwrite_removes_its_runs_but_not_the_users_files(tmp_path):
    out = tmp_path / "cmp"
    assert adamnode("compare", "--models", "node,hbnode", *TINY, "--epochs", "1", "--out", str(out)).returncode == 0
    (out / "mine.txt").write_text("mine")
    (out / "node-seed0" / "mine.txt").write_text("mine too")
    result = adamnode("compare", "--models", "anode", *TINY, "--epochs", "1", "--out", str(out), "--overwrite")
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in out.iterdir())
    assert "hbnode-seed0" not in names and "anode-seed0" in names
    assert (out / "mine.txt").read_text() == "mine" and (out / "node-seed0" / "mine.txt").read_text() == "mine too"
    assert sorted(path.name for path in (out / "node-seed0").iterdir()) == ["mine.txt"]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert "mine.txt" not in manifest["files"] and "anode-seed0" in manifest["folders"]

