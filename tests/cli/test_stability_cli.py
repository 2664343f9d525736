"""``adamnode stability``: outputs on the real recording, and one-line errors for bad input."""

import pytest

from adamnode.cli import main
from adamnode.data.silverbox import FILE_NAME


def run(*argv: str) -> int:
    """``adamnode stability ARGV`` in process, through the command's one error path; the exit status."""
    try:
        return main(["stability", *argv])
    except SystemExit as exit:
        return exit.code


def test_writes_csv_table_and_figure(tmp_path, capsys, shared_datasets):
    out = tmp_path / "stability"
    status = run("--models", "hbnode,adamnode", "--inits", "2", "--horizon", "4", "--data-dir",
                 str(shared_datasets), "--out", str(out))
    assert status == 0
    assert {path.name for path in out.iterdir()} == {"stability.csv", "stability.md", "stability.png",
                                                   ".adamnode-files.json"}
    printed = capsys.readouterr().out
    assert "| hbnode |" in printed and "| adamnode |" in printed and "wrote " in printed


@pytest.mark.parametrize("argv, message", [
    (("--horizon", "1000"), "horizon 1000 is longer than the record"),
    (("--models", "hbnode,bogus"), "unknown model 'bogus'"),
    (("--inits", "0"), "inits (--inits) must be a positive whole number"),
    (("--tol", "nan"), "tol (--tol) must be a positive number"),
    (("--seed", "-1"), "seed (--seed) must be a non-negative whole number"),
    (("--step-budget", "0"), "step_budget (--step-budget) must be a positive whole number"),
])
def test_bad_options_fail_in_one_line_before_reading_data(tmp_path, capsys, argv, message):
    status = run(*argv, "--data-dir", str(tmp_path), "--out", str(tmp_path))
    error = capsys.readouterr().err
    assert status != 0 and error.startswith("adamnode: error: ") and message in error
    assert error.count("\n") == 1


def test_missing_data_fails_in_one_line(tmp_path, capsys):
    status = run("--data-dir", str(tmp_path), "--no-download", "--out", str(tmp_path / "out"))
    error = capsys.readouterr().err
    assert status != 0 and error.startswith("adamnode: error: ") and FILE_NAME in error
    assert error.count("\n") == 1


def test_the_output_folder_is_refused_unless_adamnode_wrote_it_and_overwrite_keeps_the_users_files(
        tmp_path, capsys, shared_datasets):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "stability.md").write_text("my table")
    argv = ("--models", "hbnode", "--inits", "1", "--horizon", "3", "--data-dir", str(shared_datasets))
    assert run(*argv, "--out", str(theirs)) == 2
    assert run(*argv, "--out", str(theirs), "--overwrite") == 2
    assert (theirs / "stability.md").read_text() == "my table"
    ours = tmp_path / "ours"
    assert run(*argv, "--out", str(ours)) == 0
    (ours / "notes.txt").write_text("keep me")
    assert run(*argv, "--out", str(ours)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "already exists" in error and "--overwrite" in error
    assert run(*argv, "--out", str(ours), "--overwrite") == 0
    assert (ours / "notes.txt").read_text() == "keep me"
    assert (ours / "stability.png").is_file()
