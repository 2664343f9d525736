"""Learn a spiral's dynamics from sampled trajectories (the setup of torchdiffeq's ``ode_demo.py``).

    python examples/spiral.py                       # our layer, about a minute on a CPU
    python examples/spiral.py --solver torchdiffeq  # the same training with torchdiffeq.odeint, as the demo does

The true system is ``y' = (y**3) A`` with ``A = [[-0.1, 2], [-2, -0.1]]`` from ``y0 = (2, 0)``, sampled
at 1,000 times in [0, 25]. Each iteration fits ``f(y) = Linear(Tanh(Linear(y**3)))`` (50 hidden units,
weights N(0, 0.1), biases 0) to 20 random windows of 10 samples with RMSprop (lr 1e-3), dopri5 at
rtol 1e-7, atol 1e-9, backpropagating directly; every ``--log-every`` iterations it prints the mean
absolute error of the whole trajectory solved from ``y0``.

``--solver adamnode`` solves with ``NeuralODE(NODE(f), times=...)``, landing on every sample time;
``--solver torchdiffeq`` calls ``torchdiffeq.odeint``, which steps past them and interpolates, and
backpropagates through its step-size control too, so the two print close, not equal, losses.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint

from adamnode import NODE, NeuralODE

A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


class Cubic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, mean=0, std=0.1)
                nn.init.constant_(layer.bias, val=0)

    def forward(self, t, y):
        return self.net(y ** 3)


def solve(solver: str, f: Cubic, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if solver == "torchdiffeq":
        return odeint(f, y0, t, rtol=1e-7, atol=1e-9)
    layer = NeuralODE(NODE(f), float(t[0]), float(t[-1]), times=t, rtol=1e-7, atol=1e-9, gradient="direct",
                      step_budget=100_000)
    return layer(y0)


def main(argv=None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", choices=("adamnode", "torchdiffeq"), default="adamnode")
    parser.add_argument("--niters", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--data-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    true_y0 = torch.tensor([[2.0, 0.0]])
    t = torch.linspace(0.0, 25.0, args.data_size)
    with torch.no_grad():
        true_y = odeint(lambda t, y: torch.mm(y ** 3, A), true_y0, t, method="dopri5")
    f = Cubic()
    optimizer = torch.optim.RMSprop(f.parameters(), lr=1e-3)
    losses, start = [], time.perf_counter()
    for iteration in range(1, args.niters + 1):
        starts = torch.from_numpy(rng.choice(np.arange(args.data_size - 10, dtype=np.int64), 20, replace=False))
        batch_y0, batch_t = true_y[starts], t[:10]
        batch_y = torch.stack([true_y[starts + i] for i in range(10)], dim=0)
        optimizer.zero_grad()
        loss = torch.mean(torch.abs(solve(args.solver, f, batch_y0, batch_t) - batch_y))
        loss.backward()
        optimizer.step()
        if iteration % args.log_every == 0:
            with torch.no_grad():
                total = torch.mean(torch.abs(solve(args.solver, f, true_y0, t) - true_y)).item()
            losses.append(total)
            print(f"Iter {iteration:04d} | Total Loss {total:.6f} | {time.perf_counter() - start:.1f} s", flush=True)
    return losses


if __name__ == "__main__":
    main()
