"""``adamnode report DIR``: re-render the tables and plots of a run or comparison folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reports import render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="a run folder (adamnode train --out) or comparison folder")


def run(args: argparse.Namespace) -> int:
    print(render(Path(args.folder)))
    print(f"\nresults.csv, results.md and plots are in {args.folder}")
    return 0
