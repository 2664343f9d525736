"""``adamnode stability``: the Silverbox initialisation test (untrained models under a real input)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..data.silverbox import read_silverbox
from ..experiments import stability
from ..experiments.stability_report import OUTPUT_FILES, write_outputs
from ..models.family import MODEL_NAMES
from ..store import check_output, claimed

DEFAULT_OUT = "runs/stability"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Integrate every model, untrained, with f one linear layer on [state, u(t)] driven by the "
        "recorded Silverbox input, and report how the norms of h and of the whole state grow."
    )
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), metavar="MODEL",
                        help=f"models to test, space- or comma-separated (default: all: {', '.join(MODEL_NAMES)})")
    parser.add_argument("--inits", type=int, default=stability.DEFAULT_INITS,
                        help="random initialisations per model (default: %(default)s)")
    parser.add_argument("--horizon", type=int, default=stability.DEFAULT_HORIZON,
                        help="integrate t = 0..HORIZON samples (default: %(default)s; at most "
                             f"{stability.FIRST_SAMPLES - 1})")
    parser.add_argument("--tol", type=float, default=stability.DEFAULT_TOL,
                        help="dopri5 rtol = atol (default: %(default)g)")
    parser.add_argument("--seed", type=int, default=stability.DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument("--hidden", type=int, default=stability.DEFAULT_HIDDEN,
                        help="entries of h; the first starts at the recorded output (default: %(default)s)")
    parser.add_argument("--step-budget", type=int, default=stability.DEFAULT_STEP_BUDGET,
                        help="step budget per solve; a solve that needs more is recorded as failed "
                             "(default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding silverbox/SNLS80mV.csv (or the file itself); default "
                             "$ADAMNODE_DATA, else ~/.cache/adamnode")
    parser.add_argument("--no-download", action="store_true",
                        help="fail instead of downloading the official file when it is missing")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"folder for {', '.join(OUTPUT_FILES)} (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the test's files in --out (only the files adamnode wrote there are removed)")


def run(args: argparse.Namespace) -> int:
    # One sample of a scalar state at a time: more threads only contend for the cores.
    torch.set_num_threads(1)
    models = [name for entry in args.models for name in entry.split(",") if name]
    # Bad options fail before the data is read.
    stability.check_settings(models, args.inits, args.horizon, args.tol, args.hidden, args.step_budget,
                             seed=args.seed)
    out = Path(args.out)
    check_output(out, args.overwrite, resumable=False)
    record = read_silverbox(args.data_dir, download_missing=not args.no_download)
    u, y = stability.prepare_recording(record.v1, record.v2)
    result = stability.run_stability(u, y, models, inits=args.inits, horizon=args.horizon, tol=args.tol,
                                     seed=args.seed, hidden=args.hidden, step_budget=args.step_budget)
    with claimed(out, OUTPUT_FILES, overwrite=args.overwrite, resumable=False) as claim:
        claim.take()
        paths = write_outputs(result, out)
    print(paths[1].read_text(), end="")
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0
