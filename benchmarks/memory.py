"""Memory of one training step per gradient path, against the tolerance (issue: exact gradients in bounded memory).

For each path (``direct``, ``checkpoint`` with every state kept, ``checkpoint`` with its default
``sqrt(steps)`` spacing, ``adjoint``) and tolerance, one training step of an HBNODE on an MLP field
(width 512, batch 256, 32 features, t in [0, 10], float64) runs in a fresh process, which reports:

- ``steps``: accepted forward steps;
- ``saved MB``: bytes of the tensors autograd saves in the forward pass (``saved_tensors_hooks``);
- ``peak RSS MB``: the process's peak resident memory during the step, less its resident memory
  before it (CPU; on a GPU read ``torch.cuda.max_memory_allocated`` instead).

    python benchmarks/memory.py --tols 1e-3,1e-5,1e-7,1e-9 --out docs/results/benchmarks/memory.md
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

PATHS = {"direct": ("direct", None), "checkpoint-1": ("checkpoint", 1), "checkpoint": ("checkpoint", None),
         "adjoint": ("adjoint", None)}


def rss_mb() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * resource.getpagesize() / 2**20


def one(path: str, tol: float) -> dict:
    import torch
    from torch import nn

    from adamnode import HBNODE, ODEBlock

    torch.set_num_threads(1)
    torch.manual_seed(0)
    gradient, every = PATHS[path]
    f = nn.Sequential(nn.Linear(32, 512), nn.Tanh(), nn.Linear(512, 512), nn.Tanh(), nn.Linear(512, 32)).double()
    block = ODEBlock(HBNODE(f), t1=10.0, rtol=tol, atol=tol, gradient=gradient, checkpoint_every=every,
                     seminorm=gradient == "adjoint", step_budget=100_000)
    z0 = block.initial_state(torch.randn(256, 32, dtype=torch.float64), torch.randn(256, 32, dtype=torch.float64))
    saved = 0

    def pack(x):
        nonlocal saved
        saved += x.numel() * x.element_size()
        return x

    before = rss_mb()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        out = block(z0)
    out.pow(2).mean().backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"path": path, "tol": tol, "steps": block.stats.steps_forward, "nfe": sum(block.stats.last()[:2]),
            "saved_mb": saved / 2**20, "peak_rss_mb": peak - before}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tols", default="1e-3,1e-5,1e-7,1e-9")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--one", nargs=2, metavar=("PATH", "TOL"), help=argparse.SUPPRESS)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], float(args.one[1]))))
        return 0
    rows = []
    for tol in args.tols.split(","):
        for path in args.paths.split(","):
            result = subprocess.run([sys.executable, __file__, "--one", path, tol], capture_output=True, text=True,
                                    check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = ["| tol | path | steps | NFE (F + B) | saved MB | peak RSS MB |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['tol']:g} | {r['path']} | {r['steps']} | {r['nfe']} | {r['saved_mb']:.2f} | {r['peak_rss_mb']:.0f} |"
              for r in rows]
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
