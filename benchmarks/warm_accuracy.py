"""How accurate one training step is with and without warm starts, on a trained run's weights.

Loads the checkpoint of a run folder (``adamnode train --out DIR``) with the step sizes its
training remembered (a run trained with ``--warm-start``; otherwise the warm paths start from one
warm-up step's), warms each warm path up with one training step on a second batch (as training
would), then compares one batch's output and
parameter gradient against a float64 solve at tol 1e-10 with direct backprop:

    python benchmarks/warm_accuracy.py runs/adamnode-spheres --tol 1e-3
"""

from __future__ import annotations

import argparse

import torch

from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.training.checkpoint import load_checkpoint

PATHS = {
    "cold (default)": {},
    "warm": {"warm_start": True},
    "warm, full norm": {"warm_start": True, "seminorm": False},
    "cold, direct": {"gradient": "direct"},
    "warm, direct": {"gradient": "direct", "warm_start": True},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a run folder written by adamnode train")
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = load_checkpoint(f"{args.run}/checkpoint.pt")
    settings = state["settings"]
    task = get_task(settings["task"])
    train, _ = task.load(settings, torch.device("cpu"))
    b = args.batch_size
    batch, warmup = (train.inputs[:b], train.targets[:b]), (train.inputs[b:2 * b], train.targets[b:2 * b])

    def step(options: SolverOptions, double: bool = False):
        model = task.build_model(settings["model"], options, settings)
        model.load_state_dict(state["model"])
        dtype = torch.float64 if double else torch.float32
        model = model.to(dtype).train()
        if options.warm_start:
            task.loss(model(warmup[0].to(dtype)), warmup[1]).backward()
        model.zero_grad()
        out = model(batch[0].to(dtype))
        task.loss(out, batch[1]).backward()
        grad = torch.cat([p.grad.flatten() for p in model.parameters()]).double()
        return out.detach().double(), grad, model.block.stats.last()

    reference_out, reference_grad, _ = step(SolverOptions(rtol=1e-10, atol=1e-10, gradient="direct", warm_start=False),
                                            double=True)
    print(f"{settings['model']} on {settings['task']}, tol {args.tol:g}: relative errors against float64 at 1e-10")
    print("| path | output error | gradient error | NFE-F | NFE-B |\n|---|---|---|---|---|")
    for name, changes in PATHS.items():
        out, grad, counts = step(SolverOptions(rtol=args.tol, atol=args.tol, **changes))
        print(f"| {name} | {((out - reference_out).norm() / reference_out.norm()).item():.1e} | "
              f"{((grad - reference_grad).norm() / reference_grad.norm()).item():.1e} | "
              f"{counts.nfe_forward} | {counts.nfe_backward} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
