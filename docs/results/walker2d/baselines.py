"""Two baselines on the walker2d test windows, for scale: persistence (the next state is this one)
and the training mean.

    python docs/results/walker2d/baselines.py ../shared/datasets
"""

import sys

import torch

from adamnode.tasks import get_task

train, test = get_task("walker2d").load({"data_dir": sys.argv[1]}, torch.device("cpu"))
states, targets = test.inputs[..., 1:], test.targets  # channel 0 of the inputs is the time
print(f"{len(states)} test windows; persistence MSE {float(((states - targets) ** 2).mean()):.3f}")
mean = train.targets.reshape(-1, train.targets.shape[-1]).mean(0)
print(f"training-mean MSE {float(((mean - targets) ** 2).mean()):.3f}")
