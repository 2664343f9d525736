"""The house in two wings: the library (errors, models, solve, nets, the layer and the public names)
never imports the harness (config, tasks, data, training, experiments, studies, reports, cli, store), and
never speaks its language: no library error message names a command-line flag."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import adamnode

PACKAGE = Path(adamnode.__file__).parent
LIBRARY = ("adamnode", "adamnode.errors", "adamnode.layer", "adamnode.models", "adamnode.solve", "adamnode.nets")
#: The harness: every other module of the package (these, and any added beside them).
HARNESS = ("adamnode.config", "adamnode.tasks", "adamnode.data", "adamnode.training", "adamnode.experiments", "adamnode.studies",
           "adamnode.reports", "adamnode.cli", "adamnode.store", "adamnode.ray_board",
           "adamnode.__main__")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _module_name(path: Path) -> str:
    parts = ("adamnode",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_files() -> list[Path]:
    files = [PACKAGE / "__init__.py", PACKAGE / "errors.py", PACKAGE / "layer.py"]
    for folder in ("models", "solve", "nets"):
        files += sorted((PACKAGE / folder).rglob("*.py"))
    return files


def imported(path: Path, name: str | None = None) -> set[str]:
    """Every adamnode module ``path`` (module ``name``) imports, at any depth of its code."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return {module for module in found if module == "adamnode" or module.startswith("adamnode.")}


def _in(module: str, wing: tuple[str, ...]) -> bool:
    if wing is HARNESS:  # the harness is whatever is not the library
        return module.startswith("adamnode.") and not _in(module, LIBRARY)
    return module in wing or any(module.startswith(top + ".") for top in wing if top != "adamnode")


def test_the_named_harness_lies_outside_the_library():
    assert not [name for name in HARNESS if _in(name, LIBRARY)]
    assert all(_in(name, HARNESS) for name in HARNESS)


@pytest.mark.parametrize("path", library_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_library_module_imports_no_harness_module(path):
    upward = sorted(module for module in imported(path) if _in(module, HARNESS))
    assert not upward, f"{path.relative_to(PACKAGE)} imports {upward}"


def test_the_rule_is_checked_on_a_module_that_breaks_it(tmp_path):
    broken = tmp_path / "block.py"
    broken.write_text("import torch\nfrom ..config.settings import TrainConfig\n\n\ndef f():\n    import adamnode.cli\n")
    found = imported(broken, "adamnode.solve.block")
    assert found == {"adamnode.config.settings", "adamnode.config.settings.TrainConfig", "adamnode.cli"}
    assert all(_in(module, HARNESS) for module in found)


def test_import_adamnode_and_its_public_names_load_no_harness_module():
    code = ("import sys, adamnode, adamnode.errors\n"
            "[getattr(adamnode, name) for name in adamnode.__all__]\n"
            "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('adamnode'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "adamnode.solve" in loaded and "adamnode.layer" in loaded
    assert not [module for module in loaded if _in(module, HARNESS)], loaded


def test_the_error_classes_import_without_torch():
    code = "import sys, adamnode.errors; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def raised_texts(path: Path) -> list[tuple[int, str]]:
    """The literal text of every ``raise`` in ``path`` (f-strings' literal parts), and the remedies."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            parts = [item.value for item in ast.walk(node.exc) if isinstance(item, ast.Constant)
                     and isinstance(item.value, str)]
            texts.append((node.lineno, "".join(parts)))
        elif isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "REMEDIES" for target in node.targets):
            texts += [(node.lineno, item.value) for item in ast.walk(node.value)
                      if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return texts


@pytest.mark.parametrize("path", library_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_library_error_message_names_a_flag(path):
    where = str(path.relative_to(PACKAGE))
    named = [(line, FLAG.findall(text)) for line, text in raised_texts(path) if FLAG.search(text)]
    assert not named, f"{where} names command-line flags in its messages: {named}"


def test_the_flag_check_sees_a_flag_in_an_f_string(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f(x):\n    raise ValueError(f'{x} is bad; raise --step-budget')\n")
    assert [FLAG.findall(text) for _, text in raised_texts(module)] == [["--step-budget"]]
