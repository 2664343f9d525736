"""The work-precision study: every model x variant on the same trained weights and the same batches.

The result is a plain record (``references``, ``rows``; the caller adds ``settings``) that
``record`` turns into tables and diagrams, and saves as JSON so ``adamnode report`` can
redraw them.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from ...errors import ConfigError
from ...solve import SolverError, SolverOptions
from ...tasks.base import Split, Task
from .measure import (COSTS, ERRORS, EXTERNAL_SOLVES, Batch, Measurement, Variant, build_variant, measure,
                        reference)


def fixed_batches(split: Split, count: int, size: int, seed: int) -> list[Batch]:
    """``count`` disjoint batches of ``size`` drawn from ``split`` by ``seed``, the same for every model."""
    if count * size > len(split):
        raise ConfigError(f"--batches {count} x --batch-size {size} needs {count * size} examples; "
                         f"the training split has {len(split)}")
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed)).to(split.inputs.device)
    return [split.batch(order[k * size:(k + 1) * size]) for k in range(count)]


def pretrain(model: nn.Module, task: Task, split: Split, steps: int, *, lr: float, batch_size: int,
             grad_clip: float | None, seed: int) -> dict:
    """``steps`` Adam updates on random batches, as ``adamnode train`` would make them; the weights after.

    Untrained networks give the easiest dynamics of a run; the study should see those of training.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        index = torch.randperm(len(split), generator=generator)[:batch_size].to(split.inputs.device)
        inputs, targets = split.batch(index)
        optimizer.zero_grad(set_to_none=True)
        task.loss(model(inputs), targets).backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def run_study(task: Task, models: Sequence[str], weights: Callable[[str], dict],
              build: Callable[[str, SolverOptions], nn.Module], chosen: Sequence[Variant], batches: Sequence[Batch], *,
              repeats: int, reference_tol: float, check_tol: float, reference_adjoint: bool = False,
              record: dict | None = None, on_model: Callable[[dict], None] = lambda record: None,
              log: Callable[[str], None] = print) -> dict:
    """Measure every model of ``models`` (``weights(name)``: its trained weights) on every variant of ``chosen``.

    ``record`` holds the models an earlier, stopped study measured; they are skipped. A model's
    rows enter the record together once all of its variants are measured, then ``on_model`` sees it.
    """
    record = record or {"references": [], "rows": []}
    measured = {reference["model"] for reference in record["references"]}
    for name in models:
        if name in measured:
            continue
        state = weights(name)

        def builder(options: SolverOptions, name=name) -> nn.Module:
            return build(name, options)

        truth = reference(builder, state, batches, task.loss, tol=reference_tol, check_tol=check_tol,
                          adjoint=reference_adjoint)
        log(f"{name}: float64 reference at tol {truth.tol:g} "
            + (f"FAILED: {truth.failure}" if truth.failure else
               f"(against tol {truth.check_tol:g}: gradient {truth.estimate['grad_error']:.1e})"))
        rows = []
        for variant in chosen:
            row = {"model": name, "path": variant.path, "tol": variant.tol, "steps": variant.steps}
            try:
                found = measure(build_variant(builder, state, variant), batches, task.loss, truth, repeats=repeats)
                row.update(_columns(found), status="ok" if truth.failure is None else "reference failed")
            except SolverError as error:
                row.update(_columns(None), status=f"failed: {error.reason}")
            except AssertionError as error:
                # The external paths call torchdiffeq directly, whose solver failures are assertions
                # ("underflow in dt"): a failure of the path measured, reported like the block's.
                if variant.path not in EXTERNAL_SOLVES:
                    raise
                row.update(_columns(None), status=f"failed: {' '.join(str(error).split())}")
            rows.append(row)
            log(_line(row, variant))
        record["references"].append({"model": name, "tol": truth.tol, "check_tol": truth.check_tol,
                                     "adjoint": truth.adjoint, "failure": truth.failure, **truth.estimate})
        record["rows"] += rows
        on_model(record)
    return record


def _columns(found: Measurement | None) -> dict[str, float]:
    if found is None:
        return dict.fromkeys((*COSTS, *ERRORS), math.nan)
    return {**{key: getattr(found, key) for key in COSTS}, **found.errors}


def _line(row: dict, variant: Variant) -> str:
    if row["status"].startswith("failed"):
        return f"  {variant.path:>9} {variant.label:>10}: {row['status']}"
    return (f"  {variant.path:>9} {variant.label:>10}: NFE {row['nfe_forward']:6.1f} + {row['nfe_backward']:6.1f}, "
            f"{row['ms_per_step']:8.1f} ms, gradient error {row['grad_error']:.1e} (field {row['field_grad_error']:.1e})")
