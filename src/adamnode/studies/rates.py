"""Tabulate the rate study (study.sh) and measure how far AdamNODE's state moves on the trained models.

    python -m adamnode.studies.rates [SOURCE ...] [--ledger FILE.csv] > docs/results/rates/results.md

SOURCE: a comparison, a folder of comparisons (study.sh's OUT; default runs/rates), or a ledger
(.csv) that ``--ledger`` wrote: run folders do not outlive the machine they ran on, a run's row
does, and seeds run in different sessions are pooled that way.

Per setting: the final epoch's training loss, test accuracy and NFE (mean +- sd over seeds), the
rates at the end of training, and on the first 512 test inputs of each trained model (all of the
spheres' test points; norms over all inputs and features, the trajectory sampled at 41 times):
- ``dm``, ``dv``: |m(1) - m(0)| / |m(0)| and the same for v: how far m and v move in the unit interval;
- ``frozen``: |dh - dh_f| / |dh| with dh = h(1) - h(0) and dh_f = -m0 / (sqrt(softplus(v0)) + eps),
  the move of h if m and v both stayed at their initial values (v0 = m0**2);
- ``running``: the same for dh_r = -m0 * integral of 1 / (sqrt(softplus(v(t))) + eps) over the
  interval, the move of h if m stayed at m0 while v follows its solved path;
- ``RMS m0``: the size of the initial momentum.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import torch
from torch.nn import functional as F

from ..errors import ConfigError
from ..models import AdamNODE
from ..models.scalars import sigmoid
from ..reports import find_runs
from ..tasks import get_task
from ..training.checkpoint import load_checkpoint
from ..config.settings import config_from_settings
from ..store import ComparisonFolder, RunFolder
from .ledger import FLAG, FRACTION, NON_NEGATIVE, SEED, read_ledger, repeated, run_study, write_ledger

PROG = "python -m adamnode.studies.rates"

#: Times at which the trajectory is sampled for the integral of h's speed.
POINTS = 41
#: Test inputs measured: MNIST's 10,000 whole trajectories would not fit in memory.
INPUTS = 512


def measure(run: Path) -> dict[str, float]:
    state = load_checkpoint(RunFolder(run).checkpoint)
    config = config_from_settings(state["settings"])
    task = get_task(config.task)
    model = task.build_model(config.model, config.solver, config.settings())
    model.load_state_dict(state["model"])
    model.eval()
    _, test = task.load(config.settings(), torch.device("cpu"))
    field, times = model.block.field, torch.linspace(0.0, 1.0, POINTS)
    with torch.no_grad():
        z0 = model.block.initial_state(*model.encoder(test.inputs[:INPUTS]))
        path = model.block(z0, times)
        h, m, v = path.unbind(2)
        speed = 1.0 / (F.softplus(v).sqrt() + field.eps)
        dh = h[-1] - h[0]
        frozen = -m[0] * speed[0]
        running = -m[0] * torch.trapezoid(speed, times, dim=0)
        return {"dm": relative(m[-1] - m[0], m[0]), "dv": relative(v[-1] - v[0], v[0]),
                "frozen": relative(dh - frozen, dh), "running": relative(dh - running, dh),
                "m0": float(m[0].pow(2).mean().sqrt()), "beta1": float(field.beta1), "beta2": float(field.beta2)}


def relative(difference: torch.Tensor, reference: torch.Tensor) -> float:
    return float(difference.norm() / reference.norm())


def final(run) -> dict[str, float]:
    last = run.history[-1]
    return {key: float(last[key]) for key in ("train_loss", "test_accuracy", "nfe_forward", "nfe_backward")}


def cell(values: list[float], digits: int) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {spread:.{digits}f}"


def comparisons(folder: Path) -> list[Path]:
    """``folder`` if it is a comparison, else the comparisons directly inside it (study.sh's OUT)."""
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; give a comparison folder, the folder holding comparisons "
                          "or a ledger (.csv)")
    if ComparisonFolder(folder).is_comparison():
        return [folder]
    return sorted(child for child in folder.iterdir() if ComparisonFolder(child).is_comparison())


#: AdamNODE's rates where a run gave none, in adamnode 0.1.0: its folders recorded only the options given.
RATES_0_1_0 = {"beta1": sigmoid(-5.0), "beta2": sigmoid(5.0), "learn_betas": True}


def setting(run) -> tuple[float, float, bool]:
    """(beta1, beta2, learned) the run's AdamNODE was built with, as its folder records them; a folder
    adamnode 0.1.0 wrote records only the options given, which are read over 0.1.0's defaults."""
    built = next((field["options"] for field in run.fields if field["class"] == AdamNODE.__name__), None)
    options = built if built is not None else {**RATES_0_1_0, **run.settings.get("model_options", {})}
    return float(options["beta1"]), float(options["beta2"]), bool(options["learn_betas"])


#: A ledger's columns and their domains (``adamnode.studies.ledger``): the setting, the seed, then
#: the figures (rates and the accuracy from 0 to 1; losses, counts and norms not negative).
LEDGER = {"beta1_start": FRACTION, "beta2_start": FRACTION, "learned": FLAG, "seed": SEED,
          "train_loss": NON_NEGATIVE, "test_accuracy": FRACTION, "nfe_forward": NON_NEGATIVE,
          "nfe_backward": NON_NEGATIVE, "beta1": FRACTION, "beta2": FRACTION,
          **{key: NON_NEGATIVE for key in ("dm", "dv", "frozen", "running", "m0")}}


def main(sources: list[Path], ledger: Path | None) -> None:
    """One row per (beta1, beta2, learned) over the complete AdamNODE runs of ``sources``, whichever
    comparison holds them (the claims study's default runs count as the paper's MNIST row)."""
    columns = [("train_loss", "train loss", 4), ("test_accuracy", "test acc.", 3), ("nfe_forward", "NFE-F", 1),
               ("nfe_backward", "NFE-B", 1), ("beta1", "beta1 end", 4), ("beta2", "beta2 end", 4),
               ("dm", "dm", 3), ("dv", "dv", 2), ("frozen", "frozen", 3), ("running", "running", 3),
               ("m0", "RMS m0", 2)]
    rows = [row for source in sources if source.suffix == ".csv" for row in read_ledger(source, LEDGER)]
    for comparison in (found for source in sources if source.suffix != ".csv" for found in comparisons(source)):
        for run in find_runs(comparison):
            if run.model == "adamnode" and run.complete:
                beta1, beta2, learned = setting(run)
                rows.append({"beta1_start": beta1, "beta2_start": beta2, "learned": learned, "seed": run.seed,
                             **final(run), **measure(run.path)})
    refuse_repeats(rows, ("beta1_start", "beta2_start", "learned", "seed"), PROG)
    groups = defaultdict(list)
    for row in rows:
        groups[row["beta1_start"], row["beta2_start"], row["learned"]].append(row)
    if ledger is not None:
        write_ledger(ledger, LEDGER, [row for _, kept in sorted(groups.items()) for row in sorted(kept, key=seed_of)])
    print("| beta1 | beta2 | learned | seeds | " + " | ".join(header for _, header, _ in columns) + " |")
    print("|" + "---|" * (4 + len(columns)))
    for (beta1, beta2, learned), kept in sorted(groups.items()):
        kept.sort(key=seed_of)
        seeds = ", ".join(str(row["seed"]) for row in kept)
        print(f"| {beta1:.4f} | {beta2:.4f} | {'yes' if learned else 'no'} | {seeds} | "
              + " | ".join(cell([row[key] for row in kept], digits) for key, _, digits in columns) + " |")


def refuse_repeats(rows: list[dict], identity: tuple[str, str, str, str], script: str) -> None:
    """Stop where a run, ``identity`` = (beta1, beta2, learned, seed) columns, came from two sources."""
    twice = repeated(rows, identity)
    if twice:
        named = ", ".join(f"beta1 {b1:.4g}, beta2 {b2:.4g}, {'learned' if learned else 'fixed'}, seed {seed}"
                          for b1, b2, learned, seed in twice)
        raise SystemExit(f"{script}: {named} completed in more than one source; give each run once")


def seed_of(row: dict) -> int:
    return row["seed"]


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, default=[Path("runs/rates")],
                        help="comparisons, folders of comparisons, ledgers (.csv)")
    parser.add_argument("--ledger", type=Path, help="write every counted run's figures to this .csv")
    arguments = parser.parse_args(argv)
    run_study(PROG, main, arguments.sources, ledger=arguments.ledger)


if __name__ == "__main__":
    cli()
