"""Symbolic links in adamnode's folders: nothing adamnode writes, locks or deletes there may be a
link (the lock file, the manifest, a recorded file or sub-folder); each is refused in one line,
and the file it points to is left as it was. And ``--overwrite`` removes only the temporary files
adamnode's own writes left, not a user's file named like one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adamnode.cli import main
from adamnode.errors import ConfigError
from adamnode.store import check_output, child, clear_owned, folder_lock, record

LOCK_FILE = ".adamnode.lock"  # as adamnode.store names them
MANIFEST_FILE = ".adamnode-files.json"


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    return path


def refused_link(error) -> str:
    message = str(error.value)
    assert "symbolic link" in message and "\n" not in message, message
    return message


@pytest.mark.parametrize("command", [["report", "{run}"], ["train", "--resume", "{run}"],
                                     ["train", "--model", "node", "--preset", "tiny", "--threads", "1", "--out", "{run}"]])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path, victim, capsys, command):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).symlink_to(victim)
    with pytest.raises(SystemExit) as exit_:
        main([word.format(run=run) for word in command])
    assert victim.read_text() == "precious\n"  # it used to hold report's process id
    error = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and error.startswith("adamnode: error: ") and "symbolic link" in error, error
    assert (run / LOCK_FILE).is_symlink()  # the user's link is theirs to remove


def test_a_lock_file_that_is_a_hard_link_is_refused(tmp_path, victim):
    run = tmp_path / "run"
    run.mkdir()
    os.link(victim, run / LOCK_FILE)
    with pytest.raises(ConfigError, match="hard link"):
        with folder_lock(run):
            pass
    assert victim.read_text() == "precious\n"


def test_a_manifest_that_is_a_link_is_refused(tmp_path):
    # Another folder's manifest, linked into a folder of the user's files: its names would become
    # adamnode's to delete here.
    other, mine = tmp_path / "other", tmp_path / "mine"
    other.mkdir()
    mine.mkdir()
    record(other, ["notes.txt"], created=True)
    (mine / "notes.txt").write_text("keep me")
    (mine / MANIFEST_FILE).symlink_to(other / MANIFEST_FILE)
    with pytest.raises(ConfigError) as error:
        check_output(mine, overwrite=True)
    refused_link(error)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_a_recorded_file_that_is_a_link_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    record(run, ["metrics.csv"], created=True)
    (run / "notes.txt").write_text("keep me")
    (run / "metrics.csv").symlink_to("notes.txt")  # a link that stays inside the folder
    with pytest.raises(ConfigError) as error:
        check_output(run, overwrite=True)
    refused_link(error)
    with pytest.raises(ConfigError) as error:
        record(run, ["metrics.csv"])
    refused_link(error)
    assert (run / "notes.txt").read_text() == "keep me"


def test_a_recorded_sub_folder_linked_to_another_run_is_not_emptied(tmp_path):
    # A comparison whose node run folder is a link to its hbnode run: --overwrite or --resume would
    # clear, or train into, the hbnode run.
    comparison = tmp_path / "cmp"
    hbnode = comparison / "hbnode-seed0"
    hbnode.mkdir(parents=True)
    record(comparison, ["comparison.json"], folders=["hbnode-seed0", "node-seed0"], created=True)
    record(hbnode, ["checkpoint.pt"], created=True)
    (hbnode / "checkpoint.pt").write_bytes(b"hbnode's weights")
    (comparison / "node-seed0").symlink_to("hbnode-seed0")
    with pytest.raises(ConfigError) as error:
        child(comparison, "node-seed0", "the comparison")
    refused_link(error)
    with pytest.raises(ConfigError) as error:
        check_output(comparison, overwrite=True)
    refused_link(error)
    assert (hbnode / "checkpoint.pt").read_bytes() == b"hbnode's weights"


def test_overwrite_removes_adamnodes_temporary_files_and_not_a_users_file_named_alike(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    record(run, ["metrics.csv"], created=True)
    # A write of metrics.csv killed part way leaves adamnode's temporary file.
    killed = ("import os, signal, sys; from pathlib import Path; from adamnode.store import atomic_write; "
              "atomic_write(Path(sys.argv[1]), lambda stream: os.kill(os.getpid(), signal.SIGKILL))")
    subprocess.run([sys.executable, "-c", killed, str(run / "metrics.csv")], check=False)
    leftovers = [path.name for path in run.iterdir() if path.name.endswith(".tmp")]
    assert len(leftovers) == 1
    (run / ".metrics.csv.old.tmp").write_text("my notes")
    clear_owned(run)
    assert sorted(path.name for path in run.iterdir()) == [".metrics.csv.old.tmp"]
    assert (run / ".metrics.csv.old.tmp").read_text() == "my notes"
