"""The package's shape at a commit: lines per folder, long functions, and which wing imports which.

    python benchmarks/structure.py                 # the working tree
    python benchmarks/structure.py --rev 7dc803f   # any commit, read from git without checking it out

Lines are counted as ``wc -l`` counts them, per top-level folder of ``src/adamnode`` (modules at the
top level count as ``(top)``). A function is long when its ``def`` spans more than ``--long`` lines
(decorators and docstring included). Python under ``docs/`` is counted too: analysis code that
lives outside the package escapes its tests.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "src/adamnode/"


def sources(rev: str | None) -> dict[str, str]:
    """Path -> text of every ``.py`` file under ``src/adamnode`` and ``docs`` at ``rev`` (None: the tree)."""
    if rev is None:
        paths = [path for folder in ("src/adamnode", "docs") for path in (ROOT / folder).rglob("*.py")]
        return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in paths}
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", "src/adamnode", "docs"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.split()
    return {path: subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                                 text=True).stdout for path in listed if path.endswith(".py")}


def folder_of(path: str) -> str:
    if not path.startswith(PACKAGE):
        return path.split("/")[0] + "/ (outside the package)"
    parts = path[len(PACKAGE):].split("/")
    return parts[0] if len(parts) > 1 else "(top)"


def long_functions(path: str, text: str, limit: int) -> list[tuple[str, int]]:
    tree = ast.parse(text)
    return [(f"{path}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default=None, help="a git commit (default: the working tree)")
    parser.add_argument("--long", type=int, default=60, help="a function longer than this many lines is long")
    args = parser.parse_args()
    files = sources(args.rev)
    lines = Counter()
    for path, text in files.items():
        lines[folder_of(path)] += text.count("\n")
    print("| folder | lines |\n|---|---|")
    for folder, count in sorted(lines.items()):
        print(f"| {folder} | {count:,} |")
    print(f"| total | {sum(lines.values()):,} |")
    found = [item for path, text in sorted(files.items()) for item in long_functions(path, text, args.long)]
    print(f"\nFunctions over {args.long} lines: {len(found)}")
    for name, length in found:
        print(f"- {name}: {length} lines")


if __name__ == "__main__":
    main()
