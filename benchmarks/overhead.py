"""Where the time of a solve goes besides the vector field: adamnode, plain torchdiffeq and torchdyn.

The same network, weights and batch are solved by three loops, all dopri5 at one tolerance, all
backpropagating directly through the solver (torchdyn has no adjoint of this kind to compare):

- ``adamnode``: ``ODEBlock(gradient="direct")``, our own Runge-Kutta loop (counting, finiteness
  checks, landing on the end); ``adamnode-checkpoint``: the same block with the default
  ``gradient="checkpoint"`` (its training step replays the accepted steps).
- ``torchdiffeq``: plain ``torchdiffeq.odeint`` on the bare field (what ``adamnode`` wraps).
- ``torchdyn``: ``torchdyn.numerics.odeint`` (optional: skipped with a message where it does not import).

For each it measures, as medians over ``--repeats`` rounds taken in turn (so that a change of
load on a shared machine falls on every loop alike): the forward solve alone (no autograd) and a
full training step (forward, loss, backward), each per evaluation of the field, and the time
inside the field's forward calls (module hooks). The forward solve's overhead per evaluation is
its time per evaluation less the field's. Ratios within one run are what to read on a CPU:

    python benchmarks/overhead.py --task spheres --model adamnode --tol 1e-3 --threads 1
    python benchmarks/overhead.py --run runs/spheres-adamnode-seed0 --tol 1e-3 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torchdiffeq import odeint

from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.training.checkpoint import load_checkpoint
from adamnode.config.settings import resolve_config
from step_time import FieldTimer  # benchmarks/ is the script's folder, so on sys.path


def solvers(block, tol: float) -> dict:
    """path -> ``(field, z0) -> z(t1)``."""
    t = torch.tensor([block.t0, block.t1])
    loops = {
        "adamnode": None,  # the block itself, below
        "adamnode-checkpoint": None,
        "torchdiffeq": lambda f, z0: odeint(f, z0, t, rtol=tol, atol=tol, method="dopri5")[-1],
    }
    try:
        from torchdyn.numerics import odeint as torchdyn_odeint
        loops["torchdyn"] = lambda f, z0: torchdyn_odeint(f, z0, t, solver="dopri5", atol=tol, rtol=tol)[1][-1]
    except Exception as error:  # torchdyn's torchvision fails to import beside a CPU-only torch
        print(f"torchdyn skipped: it does not import here ({type(error).__name__}: {error})")
    return loops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="spheres")
    parser.add_argument("--model", default="adamnode")
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--run", help="a run folder of adamnode train: use its trained weights and settings "
                                      "(trained fields are harder to solve than fresh ones)")
    parser.add_argument("--out", help="write the medians as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    state = load_checkpoint(Path(args.run) / "checkpoint.pt") if args.run else None
    settings = state["settings"] if state else resolve_config({"task": args.task, "model": args.model}).settings()
    args.task, args.model = settings["task"], settings["model"]
    task = get_task(args.task)
    train, _ = task.load(settings, torch.device("cpu"))
    inputs, targets = train.inputs[:args.batch_size], train.targets[:args.batch_size]
    model = task.build_model(args.model, SolverOptions(rtol=args.tol, atol=args.tol, gradient="direct"), settings)
    if state:
        model.load_state_dict(state["model"])
    block = model.block
    clock = FieldTimer(block.field, torch.device("cpu"))
    clock.active = True
    loops = solvers(block, args.tol)

    def run(path: str, backward: bool) -> tuple[float, int, float]:
        """Seconds, evaluations and seconds inside the field of one solve (with ``backward``: one step)."""
        clock.calls, clock.seconds = 0, 0.0
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            h0, m0 = model.encoder(inputs)
            z0 = block.initial_state(h0, m0)
            if path == "adamnode":
                z1 = block(z0)
            elif path == "adamnode-checkpoint":
                z1 = block(z0, options={"gradient": "checkpoint"})
            else:
                z1 = loops[path](block.field, z0)
            output = model.readout(block.hidden(z1))
            if backward:
                task.loss(output, targets).backward()
        return time.perf_counter() - start, clock.calls, clock.seconds

    samples = {(path, backward): [] for path in loops for backward in (False, True)}
    for _ in range(3):  # warm-up
        for key in samples:
            run(*key)
    for _ in range(args.repeats):
        for key in samples:
            samples[key].append(run(*key))
    rows = {}
    for (path, backward), values in samples.items():
        seconds = statistics.median(v[0] for v in values)
        calls = statistics.median(v[1] for v in values)
        field = statistics.median(v[2] for v in values)
        rows.setdefault(path, {"nfe_forward": calls})
        if backward:
            rows[path]["step_us_per_eval"] = 1e6 * seconds / calls
        else:
            rows[path].update(solve_us_per_eval=1e6 * seconds / calls, field_us_per_eval=1e6 * field / calls,
                              overhead_us_per_eval=1e6 * (seconds - field) / calls)
    base = rows["torchdiffeq"]
    print(f"{args.model} on {args.task}, dopri5 tol {args.tol:g}, batch {args.batch_size}, {args.threads} thread(s), "
          f"medians of {args.repeats}; microseconds per evaluation of f")
    print("| loop | NFE (forward) | forward solve | inside f | overhead | overhead vs torchdiffeq | "
          "training step | step vs torchdiffeq |")
    print("|---|---|---|---|---|---|---|---|")
    for path, row in rows.items():
        print(f"| {path} | {row['nfe_forward']:g} | {row['solve_us_per_eval']:.0f} | {row['field_us_per_eval']:.0f} | "
              f"{row['overhead_us_per_eval']:.0f} | {row['overhead_us_per_eval'] / base['overhead_us_per_eval']:.2f}x | "
              f"{row['step_us_per_eval']:.0f} | {row['step_us_per_eval'] / base['step_us_per_eval']:.2f}x |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            json.dump({"settings": vars(args), "rows": rows}, stream, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
