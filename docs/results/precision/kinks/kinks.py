"""Why the MNIST references' gradients are only ~1e-4 accurate: the ReLU kinks in f, not the tolerance.

    PYTHONPATH=src python docs/results/precision/kinks/kinks.py > docs/results/precision/kinks/kinks.txt

The spheres task's NODE and HBNODE, 100 steps of default training (seed 0), once with f's tanh
layers (the task's own) and once with ReLU in their place, everything else equal. For each, the
float64 reference (dopri5, direct backprop) at tol and at tol / 10 on the same two batches of 64:
their largest difference is the reference's own error at tol, as ``adamnode precision`` reports it.
"""

import torch
from torch import nn

from adamnode.experiments.precision import reference
from adamnode.experiments.precision_study import fixed_batches, pretrain
from adamnode.tasks import get_task
from adamnode.training.config import resolve_config

torch.set_num_threads(1)
task = get_task("spheres")
config = resolve_config({"task": "spheres", "seed": 0})
settings = config.settings()
train, _ = task.load(settings, torch.device("cpu"))
batches = fixed_batches(train, 2, 64, 0)


def with_relu(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for index, layer in enumerate(module):
                if isinstance(layer, nn.Tanh):
                    module[index] = nn.ReLU()
    return model


print("model   f     tol   | output  gradient  field gradient   (own error: difference from the solve at tol / 10)")
for name in ("node", "hbnode"):
    for activation in ("tanh", "relu"):
        def build(options, activation=activation):
            model = task.build_model(name, options, settings)
            return with_relu(model) if activation == "relu" else model

        torch.manual_seed(0)
        state = pretrain(build(config.solver), task, train, 100, lr=config.lr, batch_size=config.batch_size,
                         grad_clip=config.grad_clip, seed=0)
        for tol in (1e-6, 1e-8, 1e-10):
            own = reference(build, state, batches, task.loss, tol=tol, check_tol=tol / 10).estimate
            print(f"{name:7s} {activation:5s} {tol:.0e} | {own['output_error']:.1e} {own['grad_error']:.1e}   "
                  f"{own['field_grad_error']:.1e}", flush=True)
