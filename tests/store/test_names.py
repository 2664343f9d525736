"""The store alone names the files adamnode keeps in its folders: a module that spells one of them
(``"metrics.csv"``, ``run / "checkpoint.pt"``, an f-string's ``results.md``) fails here, so that a
run folder's layout changes in one place. Docstrings may mention them; code takes them from
``adamnode.store``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import adamnode
from adamnode import store

PACKAGE = Path(adamnode.__file__).parent
NAMED = re.compile("|".join(rf"(?<![\w.-]){re.escape(name)}(?!\w)" for name in store.NAMES))


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spelled(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every store file name in ``path``'s string literals, docstrings aside."""
    tree = ast.parse(path.read_text())
    skip = docstrings(tree)
    return sorted((node.lineno, match.group()) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            for match in NAMED.finditer(node.value))


MODULES = sorted(path for path in PACKAGE.rglob("*.py") if PACKAGE / "store" not in path.parents)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_but_the_store_spells_a_folder_file_name(path):
    assert not spelled(path), f"{path.relative_to(PACKAGE)} spells {spelled(path)}; take the name from adamnode.store"


def test_the_rule_sees_a_name_in_code_and_in_an_f_string_but_not_in_a_docstring(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Reads metrics.csv."""\n\ndef f(run):\n    """Its checkpoint.pt."""\n'
                      '    print(f"{run}/results.md")\n    return run / "checkpoint.pt"\n')
    assert spelled(module) == [(5, "results.md"), (6, "checkpoint.pt")]


def test_the_store_names_each_file_once():
    assert store.names.NAMES == store.NAMES
    assert len(set(store.NAMES)) == len(store.NAMES)
    assert store.RunFolder("r").checkpoint == Path("r") / store.CHECKPOINT_FILE
