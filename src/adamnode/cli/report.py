"""``adamnode report DIR``: re-render the tables and plots of a run or comparison folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reports import render
from ..training.errors import ConfigError
from ..training.folders import folder_lock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="a run folder (adamnode train --out) or comparison folder")


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a run or comparison folder; give the --out folder of adamnode train "
                          "or compare")
    with folder_lock(folder):  # no train, compare or other report writes there meanwhile
        table = render(folder)
    print(table)
    print(f"\nresults.csv, results.md and plots are in {args.folder}")
    return 0
