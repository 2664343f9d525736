"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import TINY, adamnode


@pytest.fixture(scope="session")
def two_epoch_run(tmp_path_factory) -> Path:
    """A tiny two-epoch hbnode run, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("run") / "hb"
    result = adamnode("train", "--model", "hbnode", *TINY, "--epochs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out
