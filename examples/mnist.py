"""An ODE-Net on MNIST with a momentum ODE block (the setup of torchdiffeq's ``odenet_mnist.py``).

    python examples/mnist.py --data-dir ../shared/datasets                  # AdamNODE, 6,000 images, under a minute
    python examples/mnist.py --data-dir ../shared/datasets --model hbnode --train-size 60000 --epochs 10

Downsampling convolutions (1 -> 16 channels, 28 -> 7 pixels), one ``NeuralODE`` on the feature maps
whose ``f`` is two 3x3 convolutions with group norms, then pooling and a linear classifier. The
reference code's networks learn ``m0`` from the input; here the layer's default (``m0="flow"``) does
it without extra parameters. Prints the loss, the test accuracy and the evaluations per batch.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from adamnode import NeuralODE
from adamnode.data.mnist import read_mnist
from adamnode.models.family import FIELDS

CHANNELS = 16


def conv_f(channels: int) -> nn.Module:
    return nn.Sequential(nn.GroupNorm(4, channels), nn.Conv2d(channels, channels, 3, padding=1), nn.Tanh(),
                         nn.GroupNorm(4, channels), nn.Conv2d(channels, channels, 3, padding=1))


def build(model: str) -> nn.Module:
    field_class = FIELDS[model]
    options = {"augment_dim": 8} if model == "anode" else {}
    width = field_class.state_features(CHANNELS, **options)
    f_in, f_out = field_class.f_features(width)
    f = conv_f(f_in) if f_in == f_out else nn.Sequential(nn.Conv2d(f_in, f_out, 1), conv_f(f_out))
    return nn.Sequential(
        nn.Conv2d(1, CHANNELS, 4, stride=2, padding=1), nn.GroupNorm(4, CHANNELS), nn.ReLU(),
        nn.Conv2d(CHANNELS, CHANNELS, 4, stride=2, padding=1),
        NeuralODE(field_class(f, **options), rtol=1e-3, atol=1e-3),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: adamnode's data folder)")
    parser.add_argument("--model", default="adamnode", choices=sorted(FIELDS))
    parser.add_argument("--train-size", type=int, default=6000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = read_mnist("train", args.data_dir, download_missing=False)
    test_images, test_labels = read_mnist("test", args.data_dir, download_missing=False)
    x, y = images[:args.train_size].float() / 255, labels[:args.train_size]
    model = build(args.model)
    layer = next(m for m in model if isinstance(m, NeuralODE))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch_size):
            batch = order[i:i + args.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        counts = layer.block.stats.last()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, NFE forward {counts.nfe_forward}, backward "
              f"{counts.nfe_backward}, {time.perf_counter() - start:.0f} s", flush=True)
    model.eval()
    with torch.no_grad():
        test_x = test_images[:args.test_size].float() / 255
        predictions = torch.cat([model(test_x[i:i + 500]).argmax(1) for i in range(0, len(test_x), 500)])
    accuracy = (predictions == test_labels[:args.test_size]).float().mean().item()
    print(f"test accuracy {accuracy:.3f} on {len(test_x)} images")
    return accuracy


if __name__ == "__main__":
    main()
