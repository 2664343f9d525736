"""Two moons with a momentum ODE layer between two linear maps (the torchdyn quickstart's setup).

    python examples/moons.py                      # every model, one seed, about a minute on a CPU
    python examples/moons.py --models adamnode --seeds 3 --m0 zeros

Each model is ``nn.Sequential(nn.Linear(2, 16), NeuralODE(FIELD(f)), nn.Linear(16 (+2 for ANODE), 2))``
with ``f(x) = Linear(Tanh(Linear(x)))``, trained full-batch with Adam; prints train and test accuracy.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from adamnode import NeuralODE
from adamnode.models.family import FIELDS, MODEL_NAMES

WIDTH = 16


def make_moons(n: int, noise: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points on two interleaving half circles with Gaussian noise, and their labels (0 upper, 1 lower)."""
    labels = torch.arange(n) % 2
    angle = math.pi * torch.rand(n, generator=generator)
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    points = torch.where(labels[:, None] == 0, upper, lower)
    return points + noise * torch.randn(n, 2, generator=generator), labels


def build(name: str, m0: str) -> nn.Module:
    options = {"augment_dim": 2} if name == "anode" else {}
    field_class = FIELDS[name]
    width = field_class.state_features(WIDTH, **options)
    f_in, f_out = field_class.f_features(width)
    f = nn.Sequential(nn.Linear(f_in, 32), nn.Tanh(), nn.Linear(32, f_out))
    layer = NeuralODE(field_class(f, **options), m0=m0, rtol=1e-3, atol=1e-3)
    return nn.Sequential(nn.Linear(2, WIDTH), layer, nn.Linear(width, 2))


def run(name: str, seed: int, steps: int, m0: str) -> dict:
    generator = torch.Generator().manual_seed(seed)
    x_train, y_train = make_moons(512, 0.1, generator)
    x_test, y_test = make_moons(512, 0.1, generator)
    torch.manual_seed(seed)
    model = build(name, m0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x_train), y_train)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        train = (model(x_train).argmax(1) == y_train).float().mean().item()
        test = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"model": name, "seed": seed, "m0": m0, "loss": loss.item(), "train": train, "test": test,
            "seconds": seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--m0", default="flow", choices=("flow", "zeros"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| model | seed | m0 | final loss | train acc | test acc | seconds |\n|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        for seed in range(args.seeds):
            r = run(name, seed, args.steps, args.m0)
            print(f"| {r['model']} | {r['seed']} | {r['m0']} | {r['loss']:.4f} | {r['train']:.3f} | {r['test']:.3f} "
                  f"| {r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
