"""``adamnode report DIR``: re-render the tables and plots of a run, comparison or precision folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reports import render
from ..studies.precision.record import DRAWN, is_precision_folder, render_precision
from ..errors import ConfigError
from ..store import PRECISION_CSV, PRECISION_MD, RESULTS_CSV, RESULTS_MD, folder_lock, own_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR",
                        help="a run folder (adamnode train --out), comparison folder or precision folder")


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a run, comparison or precision folder; give the --out folder of "
                          "adamnode train, compare or precision")
    with folder_lock(folder):  # no train, compare or other report writes there meanwhile
        if is_precision_folder(folder):
            own_files(folder, DRAWN)
            print(render_precision(folder), end="")
            print(f"\n{PRECISION_CSV}, {PRECISION_MD} and the work-precision PNGs are in {folder}")
            return 0
        table = render(folder)
    print(table)
    print(f"\n{RESULTS_CSV}, {RESULTS_MD} and plots are in {args.folder}")
    return 0
