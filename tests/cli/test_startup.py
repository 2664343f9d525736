"""``adamnode`` before a command runs: no torch to import for ``--help``, a Ctrl-C meanwhile ends in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

import adamnode.cli as cli


def test_the_command_line_and_help_load_without_torch():
    code = ("import sys, adamnode.cli; from adamnode.cli import build_parser; build_parser(None); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'torch'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_ctrl_c_while_a_command_loads_ends_in_one_line(monkeypatch, capsys):
    def interrupted_load(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load", interrupted_load)
    code = None
    try:
        cli.main(["compare", "--help"])
    except SystemExit as stop:
        code = stop.code
    except KeyboardInterrupt:  # escaping, it would end the whole pytest session
        pytest.fail("the Ctrl-C escaped the command")
    assert code == cli.INTERRUPTED
    assert capsys.readouterr().err == "adamnode: error: interrupted\n"
