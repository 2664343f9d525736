"""Why the MNIST references' gradients are only ~1e-4 accurate: the ReLU kinks in f, not the tolerance.

    python -m adamnode.studies.precision.kinks > docs/results/precision/kinks/kinks.txt

The spheres task's NODE and HBNODE, 100 steps of default training (seed 0), once with f's tanh
layers (the task's own) and once with ReLU in their place, everything else equal. For each, the
float64 reference (dopri5, direct backprop) at tol and at tol / 10 on the same two batches of 64:
their largest difference is the reference's own error at tol, as ``adamnode precision`` reports it.
"""

from __future__ import annotations

import argparse
from typing import Sequence

import torch
from torch import nn

from .measure import reference
from .study import fixed_batches, pretrain
from ...tasks import get_task
from ...config.settings import resolve_config

PROG = "python -m adamnode.studies.precision.kinks"
HEADER = "model   f     tol   | output  gradient  field gradient   (own error: difference from the solve at tol / 10)"


def with_relu(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for index, layer in enumerate(module):
                if isinstance(layer, nn.Tanh):
                    module[index] = nn.ReLU()
    return model


def main(models: Sequence[str] = ("node", "hbnode"), tols: Sequence[float] = (1e-6, 1e-8, 1e-10),
         steps: int = 100, batches: int = 2, batch_size: int = 64) -> None:
    torch.set_num_threads(1)
    task = get_task("spheres")
    config = resolve_config({"task": "spheres", "seed": 0})
    settings = config.settings()
    train, _ = task.load(settings, torch.device("cpu"))
    fixed = fixed_batches(train, batches, batch_size, 0)
    print(HEADER)
    for name in models:
        for activation in ("tanh", "relu"):
            def build(options, activation=activation):
                model = task.build_model(name, options, settings)
                return with_relu(model) if activation == "relu" else model

            torch.manual_seed(0)
            state = pretrain(build(config.solver), task, train, steps, lr=config.lr, batch_size=config.batch_size,
                             grad_clip=config.grad_clip, seed=0)
            for tol in tols:
                own = reference(build, state, fixed, task.loss, tol=tol, check_tol=tol / 10).estimate
                print(f"{name:7s} {activation:5s} {tol:.0e} | {own['output_error']:.1e} {own['grad_error']:.1e}   "
                      f"{own['field_grad_error']:.1e}", flush=True)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=_models, default="node,hbnode",
                        help="comma-separated models of the spheres task (default node,hbnode)")
    parser.add_argument("--tols", type=_tolerances, default="1e-6,1e-8,1e-10",
                        help="comma-separated reference tolerances")
    parser.add_argument("--steps", type=int, default=100, help="training steps before the references")
    arguments = parser.parse_args(argv)
    main(arguments.models, arguments.tols, arguments.steps)


def _models(given: str) -> list[str]:
    valid = get_task("spheres").models
    names = [name.strip().lower() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; choose from "
                                         f"{', '.join(valid)}")
    return names


def _tolerances(given: str) -> list[float]:
    try:
        tols = [float(tol) for tol in given.split(",") if tol.strip()]
    except ValueError:
        tols = []
    if not tols or not all(0 < tol < 1 for tol in tols):
        raise argparse.ArgumentTypeError(f"{given!r} is not a comma-separated list of tolerances between 0 and 1")
    return tols


if __name__ == "__main__":
    cli()
