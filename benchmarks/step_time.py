"""Training-step speed of the model family on the MNIST architecture, side by side in one run.

For each model and batch size this times a full training step (forward, loss, backward, Adam
update) of several paths on the *same* network, the same initial weights and the same batches:

- ``baseline``: plain ``torchdiffeq.odeint_adjoint`` on the same weights, computed and called the
  way the reference code does (t channel concatenated before each conv; dopri5, adjoint, no
  seminorm, time tensor on the CPU).
- ``default``:  adamnode's ``ODEBlock`` defaults (adjoint with seminorm, torchdiffeq's first-step guess).
- ``warm``:     the default path with warm starts (each training solve from the last one's first step).
- ``direct``:   ``ODEBlock(gradient="direct")``: backprop through the solver.
- ``compile``:  the default path with ``torch.compile`` on f (``--compile``; slow to warm up).
- ``rk4``:      fixed-step RK4 (6 steps, 24 evaluations) with direct backprop, the sync-free loop.
- ``rk4-graph``: the same step captured whole in one CUDA graph (CUDA only).

It prints ms per step (median after warm-up), NFE-F, NFE-B, the share of the step spent inside
vector-field calls, samples/s, the mean loss of the timed steps and, as the accuracy each path
buys, the error of one step's loss against a float64 solve at tolerance 1e-8 on the same weights,
plus ratios against the baseline; it writes JSON and a Markdown table.

    python benchmarks/step_time.py --models adamnode --batch-sizes 32,256 --steps 10
    python benchmarks/step_time.py --models adamnode --batch-sizes 32 --pretrain-steps 40

``--pretrain-steps`` first trains the network for a while, so the timed steps see the harder
dynamics of a run in progress rather than those of untrained weights.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torchdiffeq import odeint_adjoint

from adamnode.data.mnist import read_mnist
from adamnode.models.family import field_class
from adamnode.nets.images import MNIST
from adamnode.solve import SolverOptions
from adamnode.tasks import get_task

TOL = 1e-4
RK4_STEP = 1 / 6
REFERENCE_TOL = 1e-8


class FieldTimer:
    """Calls of ``f`` and the time spent inside them, through module hooks (synchronising CUDA), while ``active``."""

    def __init__(self, f: nn.Module, device: torch.device):
        self.device, self.active, self.calls, self.seconds, self._start = device, False, 0, 0.0, 0.0
        f.register_forward_pre_hook(self._before)
        f.register_forward_hook(self._after)

    def _before(self, module, inputs) -> None:
        if self.active:
            _sync(self.device)
            self._start = time.perf_counter()

    def _after(self, module, inputs, output) -> None:
        if self.active:
            _sync(self.device)
            self.seconds += time.perf_counter() - self._start
            self.calls += 1


class ConcatenatedTimeField(nn.Module):
    """The reference's way of computing the same f: a t channel concatenated before each conv."""

    def __init__(self, f: nn.Module):
        super().__init__()
        self.f = f

    def forward(self, t, h):
        def with_t(x):
            return torch.cat([x, t.expand(x.shape[0], 1, *x.shape[2:])], dim=1)

        out = torch.relu(self.f.conv_in(with_t(h)))
        out = torch.relu(self.f.conv_mid(with_t(out)))
        return self.f.conv_out(with_t(out))


class CountedField(nn.Module):
    """The reference-style field, counting its calls (a bare odeint_adjoint keeps no statistics)."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t, z):
        self.calls += 1
        return self.field(t, z)


class Baseline(nn.Module):
    """The same weights, integrated by a bare odeint_adjoint call the way the reference does it.

    Its field is a second field of the same class and rates around the reference-style f, sharing
    the model's convolution weights.
    """

    def __init__(self, model: nn.Module, name: str):
        super().__init__()
        self.model = model
        field = model.block.field
        twin = field_class(name)(ConcatenatedTimeField(field.f), **MNIST.architectures[name].field_options)
        twin.load_state_dict({key: value for key, value in field.state_dict().items() if not key.startswith("f.")},
                             strict=False)
        self.counted = CountedField(twin)
        self.t = torch.tensor([model.block.t0, model.block.t1])  # on the CPU, as the reference keeps it

    def forward(self, x):
        model = self.model
        z0 = model.block.initial_state(*model.encoder(x))
        z1 = odeint_adjoint(self.counted, z0, self.t.to(z0), rtol=TOL, atol=TOL, method="dopri5")[-1]
        return model.readout(model.block.hidden(z1))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: Every path's solver settings: built through the public API, nothing changed after construction.
OPTIONS = {
    "baseline": SolverOptions(rtol=TOL, atol=TOL, seminorm=False),
    "default": SolverOptions(rtol=TOL, atol=TOL),
    "warm": SolverOptions(rtol=TOL, atol=TOL, warm_start=True),
    "direct": SolverOptions(rtol=TOL, atol=TOL, gradient="direct"),
    "compile": SolverOptions(rtol=TOL, atol=TOL),
    "rk4": SolverOptions(method="rk4", step_size=RK4_STEP, gradient="direct", seminorm=False),
    # A finiteness check is a host sync: not capturable.
    "rk4-graph": SolverOptions(method="rk4", step_size=RK4_STEP, gradient="direct", seminorm=False, check_finite=False),
}


def build(task, name: str, variant: str, device: torch.device, seed: int,
          state: dict | None) -> tuple[nn.Module, FieldTimer]:
    torch.manual_seed(seed)
    model = task.build_model(name, OPTIONS[variant], {})
    if state is not None:
        model.load_state_dict(state)
    model = model.to(device)
    if variant == "compile":
        model.block.field.f.compile()  # in place: the same module, its forward compiled
    if variant == "baseline":
        model = Baseline(model, name)
        return model, FieldTimer(model.counted.field.f, device)
    return model, FieldTimer(model.block.field.f, device)


def pretrained_state(task, name: str, batches, device: torch.device, args) -> dict | None:
    """Weights after ``--pretrain-steps`` Adam steps on the default path, shared by every variant.

    Untrained weights give the easiest dynamics of a run (fewest steps, where seminorm and landing
    on t0 change nothing); the reference's figures are from steps 21-400.
    """
    if not args.pretrain_steps:
        return None
    torch.manual_seed(args.seed)
    model = task.build_model(name, OPTIONS["default"], {}).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.pretrain_lr)
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.state_dict()


def run_variant(task, name, variant, batches, device, args, state) -> dict:
    model, timer = build(task, name, variant, device, args.seed, state)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, capturable=variant == "rk4-graph")
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        if isinstance(model, Baseline):
            forward_calls[0] = model.counted.calls
        loss.backward()
        optimizer.step()
        return loss

    forward_calls = [0]
    step = _capture(train_step, batches[0], device) if variant == "rk4-graph" else train_step
    times, losses, nfe_f, nfe_b = [], [], [], []
    for i, (x, y) in enumerate(batches):
        if isinstance(model, Baseline):
            model.counted.calls = 0
        _sync(device)
        start = time.perf_counter()
        loss = step(x, y)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            losses.append(loss.item())
            if isinstance(model, Baseline):
                nfe_f.append(forward_calls[0])
                nfe_b.append(model.counted.calls - forward_calls[0])
            else:
                nfe_f.append(model.block.stats.nfe_forward)
                nfe_b.append(model.block.stats.nfe_backward)
    if variant == "rk4-graph":
        # A replayed graph runs no Python, so nothing was counted: the captured step made 24 calls.
        nfe_f, nfe_b = [round(1 / RK4_STEP) * 4], [0]
    # One extra, separately timed eager step measures the share inside f (its syncs distort the total).
    x, y = batches[-1]
    exact = reference_loss(task, name, model.model if variant == "baseline" else model, x, y)
    timer.active = True
    _sync(device)
    start = time.perf_counter()
    loss = train_step(x, y)
    _sync(device)
    share = timer.seconds / (time.perf_counter() - start)
    ms = 1000 * statistics.median(times)
    return {
        "model": name, "variant": variant, "batch": len(batches[0][0]), "ms_per_step": ms,
        "nfe_f": statistics.mean(nfe_f), "nfe_b": statistics.mean(nfe_b), "share_in_f": share,
        "samples_per_s": len(batches[0][0]) / (ms / 1000), "mean_loss": statistics.mean(losses),
        "loss_error": abs(loss.item() - exact),
    }


def reference_loss(task, name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The loss of ``model``'s current weights from a float64 solve at ``REFERENCE_TOL`` (eval mode:
    no warm start), the yardstick for the accuracy a path's steps give."""
    reference = task.build_model(name, SolverOptions(rtol=REFERENCE_TOL, atol=REFERENCE_TOL, gradient="direct"), {})
    reference.load_state_dict(model.state_dict())
    reference = reference.to(x.device).double().eval()
    with torch.no_grad():
        return nn.functional.cross_entropy(reference(x.double()), y).item()


def _capture(train_step, batch, device):
    """Capture one whole training step in a CUDA graph; replay it with new data copied in."""
    static_x, static_y = batch[0].clone(), batch[1].clone()
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(3):
            train_step(static_x, static_y)
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = train_step(static_x, static_y)

    def replay(x, y):
        static_x.copy_(x)
        static_y.copy_(y)
        graph.replay()
        return static_loss

    return replay


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="adamnode")
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--variants", default="baseline,default,warm,direct,rk4,rk4-graph")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile variant")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--pretrain-steps", type=int, default=0,
                        help="train this many steps (default path) first; every variant starts from those weights")
    parser.add_argument("--pretrain-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (use 1 on a loaded machine: OpenMP spin-waits make 2 threads on 2 busy cores far slower)")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
    parser.add_argument("--out", default="docs/results/benchmarks")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = args.variants.split(",") + (["compile"] if args.compile else [])
    if device.type != "cuda":
        variants = [v for v in variants if v != "rk4-graph"]
    task = get_task("mnist")
    images, labels = read_mnist("train", args.data_dir, download_missing=False)
    train = (images.to(device).float() / 255, labels.to(device))
    results = []
    for batch_size in map(int, args.batch_sizes.split(",")):
        generator = torch.Generator().manual_seed(args.seed)
        order = torch.randperm(len(train[0]), generator=generator)
        n = args.warmup + args.steps + args.pretrain_steps
        batches = [(train[0][order[i * batch_size:(i + 1) * batch_size]],
                    train[1][order[i * batch_size:(i + 1) * batch_size]]) for i in range(n)]
        pretrain, timed = batches[:args.pretrain_steps], batches[args.pretrain_steps:]
        for name in args.models.split(","):
            state = pretrained_state(task, name, pretrain, device, args)
            for variant in variants:
                row = run_variant(task, name, variant, timed, device, args, state)
                results.append(row)
                print(_format_row(row), flush=True)
    table = markdown(results)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"step_time_{device.type}_b{args.batch_sizes.replace(',', '-')}"
    stem += f"_pretrained{args.pretrain_steps}" if args.pretrain_steps else ""
    meta = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "threads": torch.get_num_threads(), "torch": torch.__version__, "python": sys.version.split()[0],
            "command": "python benchmarks/step_time.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    (out / f"{stem}.md").write_text(f"Device: {meta['device']} ({meta['threads']} threads), torch {meta['torch']}\n\n"
                                    f"Command: `{meta['command']}`\n\n{table}\n")
    return 0


def _format_row(row: dict) -> str:
    return (f"{row['model']:>13} b={row['batch']:<4} {row['variant']:>9}: {row['ms_per_step']:9.1f} ms/step  "
            f"NFE-F {row['nfe_f']:5.1f}  NFE-B {row['nfe_b']:5.1f}  in f {row['share_in_f']:.0%}  "
            f"loss {row['mean_loss']:.4f}  loss error {row['loss_error']:.1e}")


def markdown(results: list[dict]) -> str:
    lines = ["| model | batch | path | ms/step | x baseline | NFE-F | NFE-B | NFE-B / baseline | in f | samples/s | "
             "mean loss | loss error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["model"], r["batch"]): r for r in results if r["variant"] == "baseline"}
    for r in results:
        b = base.get((r["model"], r["batch"]))
        speedup = f"{b['ms_per_step'] / r['ms_per_step']:.2f}" if b else "-"
        nfe_ratio = f"{r['nfe_b'] / b['nfe_b']:.2f}" if b and b["nfe_b"] else "-"
        lines.append(f"| {r['model']} | {r['batch']} | {r['variant']} | {r['ms_per_step']:.1f} | {speedup} | "
                     f"{r['nfe_f']:.1f} | {r['nfe_b']:.1f} | {nfe_ratio} | {r['share_in_f']:.0%} | "
                     f"{r['samples_per_s']:.0f} | {r['mean_loss']:.4f} | {r['loss_error']:.1e} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
