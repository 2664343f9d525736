"""Training-step time of a task's network with and without ``torch.compile``, side by side.

    python benchmarks/compile_step.py --threads 1 --repeats 30
    python benchmarks/compile_step.py --task mnist --batch-size 16 --threads 1 --repeats 10

Builds the task's model for ``--model`` (spheres, or the paper's MNIST network on random images) twice from the same seed (rk4 with 4 steps and direct
backprop; dopri5 at tol 1e-3 with the default checkpointed gradient), compiles one with
``torch.compile``, warms both up (the compile time is reported separately), then times full training
steps (forward, loss, backward) in turn and prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.config.settings import resolve_config

SETTINGS = {"rk4 (direct)": SolverOptions(method="rk4", step_size=0.25, gradient="direct"),
            "dopri5 (checkpoint)": SolverOptions(rtol=1e-3, atol=1e-3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="spheres", choices=("spheres", "mnist"))
    parser.add_argument("--model", default="adamnode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = resolve_config({"task": args.task, "model": args.model}).settings()
    task = get_task(args.task)
    if args.task == "spheres":
        train, _ = task.load(settings, torch.device("cpu"))
        x, y = train.inputs[:args.batch_size], train.targets[:args.batch_size]
    else:  # the paper's MNIST network on random images: the step's cost does not depend on the pixels
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(args.batch_size, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (args.batch_size,), generator=generator)
    print(f"{args.model} on {args.task}, batch {args.batch_size}, {args.threads} thread(s), medians of "
          f"{args.repeats} steps (ms)")
    print("| solve | eager | compiled | compiled / eager | compile time (s) |\n|---|---|---|---|---|")
    for name, options in SETTINGS.items():
        torch.manual_seed(0)
        eager = task.build_model(args.model, options, settings)
        torch.manual_seed(0)
        compiled = torch.compile(task.build_model(args.model, options, settings))

        def step(model) -> float:
            start = time.perf_counter()
            task.loss(model(x), y).backward()
            return time.perf_counter() - start

        start = time.perf_counter()
        step(compiled)
        compile_seconds = time.perf_counter() - start
        for _ in range(3):
            step(eager), step(compiled)
        times = {"eager": [], "compiled": []}
        for _ in range(args.repeats):
            times["eager"].append(step(eager))
            times["compiled"].append(step(compiled))
        eager_ms, compiled_ms = (1e3 * statistics.median(times[k]) for k in ("eager", "compiled"))
        print(f"| {name} | {eager_ms:.2f} | {compiled_ms:.2f} | {compiled_ms / eager_ms:.2f}x | {compile_seconds:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
