"""The package's public names and subpackages, imported on first use."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import adamnode
from adamnode.models import AdamNODE
from adamnode.solve import ODEBlock


def test_every_public_name_resolves_to_its_home():
    assert adamnode.AdamNODE is AdamNODE and adamnode.ODEBlock is ODEBlock
    assert all(getattr(adamnode, name) is not None for name in adamnode.__all__)
    assert set(adamnode.__all__) <= set(dir(adamnode))


def test_the_type_checkers_imports_name_the_same_public_names():
    tree = ast.parse(Path(adamnode.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {alias.name for node in guarded.body for alias in node.names}
    assert imported == set(adamnode.__all__) - {"__version__"}


def test_subpackages_are_attributes_and_unknown_names_are_attribute_errors():
    # Called directly: another test may have imported the subpackage, which makes it a plain attribute.
    assert adamnode.__getattr__("reports") is importlib.import_module("adamnode.reports")
    with pytest.raises(AttributeError, match="no attribute 'AdamNode'"):
        adamnode.AdamNode
