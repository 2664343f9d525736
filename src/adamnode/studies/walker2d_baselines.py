"""Two baselines on the walker2d test windows, for scale: persistence (the next state is this one)
and the training mean.

    python -m adamnode.studies.walker2d_baselines ../shared/datasets
"""

from __future__ import annotations

import argparse
from typing import Sequence

import torch

from ..tasks import get_task
from .ledger import one_line_errors

PROG = "python -m adamnode.studies.walker2d_baselines"


def baselines(train, test) -> tuple[float, float]:
    """(persistence MSE, training-mean MSE) on ``test``'s windows."""
    states, targets = test.inputs[..., 1:], test.targets  # channel 0 of the inputs is the time
    mean = train.targets.reshape(-1, train.targets.shape[-1]).mean(0)
    return float(((states - targets) ** 2).mean()), float(((mean - targets) ** 2).mean())


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="the folder with walker2d's data files")
    data_dir = parser.parse_args(argv).data_dir
    with one_line_errors(PROG):
        train, test = get_task("walker2d").load({"data_dir": data_dir}, torch.device("cpu"))
    persistence, mean = baselines(train, test)
    print(f"{len(test.inputs)} test windows; persistence MSE {persistence:.3f}")
    print(f"training-mean MSE {mean:.3f}")


if __name__ == "__main__":
    cli()
