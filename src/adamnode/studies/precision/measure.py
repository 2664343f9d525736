"""Work and accuracy of one training step, per solver path, against a float64 reference.

A *variant* is a path (how the block solves) at one setting (a tolerance, or a step count for
fixed-step rk4). ``measure`` runs full training steps (forward, loss, backward) of a model built
for a variant on fixed batches and compares each step's output, loss and parameter gradient with a
``Reference``: the same weights solved in float64 at a tight tolerance, by default with the exact
gradient of that discrete solve (``gradient="checkpoint"``: direct backprop's numbers, without its
memory); with ``adjoint=True`` by the adjoint under full error control (no seminorm), whose
memory does not grow with the number of steps (direct backprop through a tight solve of a large
network keeps every step's activations: 21 GB for MNIST NODE on one batch of 16). On a ReLU field
the adjoint's full error control is slow, its integrand jumping at every kink: measure first.

The paths:

- ``default``: adamnode's ``SolverOptions()`` at the tolerance (checkpointed gradients, cold starts);
- ``warm``: the same with warm starts; ``direct``: the same with direct backprop; ``adjoint``: the
  same with the continuous adjoint and its seminorm (the default before 0.2);
- ``fixed``: rk4 with a fixed number of steps, direct backprop;
- ``reference``: the reference code's call, ``odeint_adjoint(field, z0, t)`` with dopri5 and
  nothing else (no seminorm, no landing on the interval's end, torchdiffeq's first-step guess);
- ``plain-direct``: ``odeint(field, z0, t)``, dopri5, direct backprop: ``direct`` without landing
  on the end (torchdiffeq steps past it and evaluates its dense output there);
- ``aca``, ``mali`` (optional, where TorchDiffEqPack imports): its dopri5 with the adaptive
  checkpoint adjoint (ACA) and its asynchronous leapfrog with the reversible adjoint (MALI);
- ``torchdyn`` (optional, where torchdyn imports): ``torchdyn.numerics.odeint`` with its dopri5
  and direct backprop, as ``NeuralODE(..., solver="dopri5", sensitivity="autograd")`` solves.

The last three solve outside the block (``ExternalSolve``). torchode is not a path: it steps every
sample with its own time, and the fields take one time for the whole batch.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from ...nets.ode_model import ODEModel
from ...solve import ODEBlock, SolverError, SolverOptions
from ...errors import ConfigError

#: The paths adamnode and torchdiffeq provide (the CLI's default), and those that need another library.
PATHS = ("default", "warm", "direct", "adjoint", "fixed", "reference", "plain-direct")
OPTIONAL_PATHS = ("torchdyn", "aca", "mali")
REFERENCE_TOL, CHECK_TOL = 1e-10, 1e-12
#: Steps a float64 reference solve may take: tight tolerances need many, and failing is reported.
REFERENCE_STEP_BUDGET = 200_000

#: ``options -> a fresh model`` whose blocks solve with ``options`` (weights are loaded afterwards).
Builder = Callable[[SolverOptions], nn.Module]
Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Variant:
    """One path at one setting: ``tol`` for the adaptive paths, ``steps`` for ``fixed``.

    ``steps`` are rk4 steps per unit of time: every task integrates over an interval of length one.
    """

    path: str
    tol: float | None = None
    steps: int | None = None

    def __post_init__(self):
        if self.path not in PATHS + OPTIONAL_PATHS:
            raise ConfigError(f"unknown path {self.path!r}; choose from {', '.join(PATHS + OPTIONAL_PATHS)}")
        if (self.path == "fixed") != (self.steps is not None) or (self.path == "fixed") == (self.tol is not None):
            raise ConfigError(f"path {self.path!r} takes {'steps' if self.path == 'fixed' else 'tol'} only")

    @property
    def label(self) -> str:
        return f"{self.steps} steps" if self.path == "fixed" else f"tol {self.tol:.0e}"

    def options(self) -> SolverOptions:
        """The block's options (external paths solve outside the block, on a model built with ``default``'s)."""
        if self.path == "fixed":
            return SolverOptions(method="rk4", step_size=1.0 / self.steps, gradient="direct", seminorm=False)
        changes = {"warm": {"warm_start": True}, "direct": {"gradient": "direct"},
                   "adjoint": {"gradient": "adjoint"}}.get(self.path, {})
        return SolverOptions(rtol=self.tol, atol=self.tol, **changes)


def variants(paths: Sequence[str], tols: Sequence[float], fixed_steps: Sequence[int]) -> list[Variant]:
    """Every path at every setting, loosest first: tolerances for adaptive paths, step counts for ``fixed``."""
    found = []
    for path in paths:
        if path == "fixed":
            found += [Variant(path, steps=steps) for steps in sorted(fixed_steps)]
        else:
            found += [Variant(path, tol=tol) for tol in sorted(tols, reverse=True)]
    return found


def _torchdyn_odeint() -> Callable:
    try:
        from torchdyn.numerics import odeint as torchdyn_odeint
    except ImportError as error:
        # torchdyn's own requirements pull torchvision, which does not import beside a CPU-only torch.
        raise ConfigError(f"path 'torchdyn' needs torchdyn, which does not import here ({error}); install it "
                         f"without its dependencies (pip install --no-deps torchdyn==1.0.6, then each missing "
                         f"import the same way) or drop the path") from None
    return torchdyn_odeint


def _torchdiffeqpack(path: str) -> Callable:
    """TorchDiffEqPack's solve for ``path``: ACA (Zhuang et al., ICML 2020: its dopri5 with the adaptive
    checkpoint adjoint) or MALI (Zhuang et al., ICLR 2021: the asynchronous leapfrog, reversible)."""
    try:
        import TorchDiffEqPack
    except ImportError as error:
        raise ConfigError(f"path {path!r} needs TorchDiffEqPack, which does not import here ({error}); "
                          "pip install torchdiffeqpack, or drop the path") from None
    return TorchDiffEqPack.odesolve if path == "aca" else TorchDiffEqPack.odesolve_adjoint_sym12


def _torchdiffeqpack_solve(path: str, f: Callable, z0: torch.Tensor, t: torch.Tensor, tol: float) -> torch.Tensor:
    options = {"method": "Dopri5" if path == "aca" else "sym12async", "t0": float(t[0]), "t1": float(t[-1]),
               "rtol": tol, "atol": tol, "h": None, "print_neval": False, "neval_max": 500_000,
               "regenerate_graph": False}
    return _torchdiffeqpack(path)(f, z0, options)


def check_available(paths: Sequence[str]) -> None:
    """Fail now, before any training, if a chosen path's library does not import."""
    if "torchdyn" in paths:
        _torchdyn_odeint()
    for path in ("aca", "mali"):
        if path in paths:
            _torchdiffeqpack(path)


#: path -> ``(field, z0, t, tol) -> z(t1)``: how each external path solves.
EXTERNAL_SOLVES: dict[str, Callable[[Callable, torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "reference": lambda f, z0, t, tol: odeint_adjoint(f, z0, t, rtol=tol, atol=tol, method="dopri5")[-1],
    "plain-direct": lambda f, z0, t, tol: odeint(f, z0, t, rtol=tol, atol=tol, method="dopri5")[-1],
    "torchdyn": lambda f, z0, t, tol: _torchdyn_odeint()(f, z0, t, solver="dopri5", atol=tol, rtol=tol)[1][-1],
    "aca": lambda f, z0, t, tol: _torchdiffeqpack_solve("aca", f, z0, t, tol),
    "mali": lambda f, z0, t, tol: _torchdiffeqpack_solve("mali", f, z0, t, tol),
}


class ExternalSolve(nn.Module):
    """``model``'s encoder, field and readout, solved by another library's call, its evaluations counted."""

    def __init__(self, model: nn.Module, path: str, tol: float):
        super().__init__()
        if not isinstance(model, ODEModel):
            raise ConfigError(f"the {path} path needs an encoder -> block -> readout model; "
                             f"{type(model).__name__} is not one")
        self.model, self.path, self.tol = model, path, tol
        # Evaluations since the step began, and how many of them the forward solve made.
        self.calls = self.forward_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.model.block
        z0 = block.initial_state(*self.model.encoder(x))
        t = torch.tensor([block.t0, block.t1]).to(z0)
        z1 = EXTERNAL_SOLVES[self.path](_Counted(block.field, self._count), z0, t, self.tol)
        return self.model.readout(block.hidden(z1))

    def _count(self) -> None:
        self.calls += 1


class _Counted(nn.Module):
    """The field, reporting each call; a module, so ``odeint_adjoint`` finds the field's parameters."""

    def __init__(self, field: nn.Module, on_call: Callable[[], None]):
        super().__init__()
        self.field, self.on_call = field, on_call

    def forward(self, t, z, *_):
        self.on_call()
        if not isinstance(t, torch.Tensor):  # MALI passes its times as Python floats
            t = torch.tensor(t, dtype=z.dtype, device=z.device)
        return self.field(t, z)


def build_variant(build: Builder, state: dict, variant: Variant) -> nn.Module:
    model = build(variant.options())
    model.load_state_dict(state)
    return ExternalSolve(model, variant.path, variant.tol) if variant.path in EXTERNAL_SOLVES else model


@dataclass
class Outcome:
    """One step's answer: output, loss and the parameter gradient, whole and the fields' own part."""

    output: torch.Tensor
    loss: float
    grad: torch.Tensor
    field_grad: torch.Tensor


def _gradient_outcome(model: nn.Module, output: torch.Tensor, loss: torch.Tensor, grads: Sequence[torch.Tensor | None]) -> Outcome:
    params = list(model.parameters())
    own = field_parameter_ids(model)
    flat = [(g if g is not None else torch.zeros_like(p)).detach().double().flatten() for p, g in zip(params, grads)]
    field = [g for p, g in zip(params, flat) if id(p) in own]
    return Outcome(output.detach().double(), float(loss), torch.cat(flat),
                   torch.cat(field) if field else torch.zeros(0, dtype=torch.float64))


def field_parameter_ids(model: nn.Module) -> set[int]:
    """The parameters of the vector fields (f, rates, damping), as opposed to encoder and readout."""
    return {id(p) for block in model.modules() if isinstance(block, ODEBlock) for p in block.field.parameters()}


@dataclass
class Reference:
    """Float64 outcomes per batch, and how far they moved at the tighter check tolerance."""

    tol: float
    check_tol: float
    adjoint: bool
    outcomes: list[Outcome] | None
    #: Largest difference over the batches from the check solve, per column of ``ESTIMATED``.
    estimate: dict[str, float]
    failure: str | None = None


def reference(build: Builder, state: dict, batches: Sequence[Batch], loss_fn: LossFn, tol: float = REFERENCE_TOL,
              check_tol: float = CHECK_TOL, adjoint: bool = False) -> Reference:
    """Solve every batch in float64 at ``tol`` and at ``check_tol``, backprop direct or by the adjoint;
    a failure is recorded."""
    try:
        main = [_reference_outcome(build, state, batch, loss_fn, tol, adjoint) for batch in batches]
        check = [_reference_outcome(build, state, batch, loss_fn, check_tol, adjoint) for batch in batches]
    except SolverError as error:
        return Reference(tol, check_tol, adjoint, None, {}, failure=" ".join(str(error).split()))
    differences = [errors(a, b) for a, b in zip(main, check)]
    estimate = {name: max(d[name] for d in differences) for name in ESTIMATED}
    return Reference(tol, check_tol, adjoint, main, estimate)


def _reference_outcome(build: Builder, state: dict, batch: Batch, loss_fn: LossFn, tol: float,
                       adjoint: bool) -> Outcome:
    # No seminorm: the adjoint's parameter integral, the gradient itself, stays under error control.
    # Otherwise the exact gradient of the discrete solve, replayed step by step: direct backprop's
    # numbers in memory of about sqrt(steps) states (direct backprop needed 29 GB for MNIST NODE).
    options = SolverOptions(rtol=tol, atol=tol, gradient="adjoint" if adjoint else "checkpoint", seminorm=False,
                            warm_start=False, step_budget=REFERENCE_STEP_BUDGET)
    model = build(options).double()
    model.load_state_dict(state)
    x, y = batch
    output = model(x.double() if x.is_floating_point() else x)
    loss = loss_fn(output, y.double() if y.is_floating_point() else y)
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    return _gradient_outcome(model, output, loss.detach(), grads)


#: The error columns: relative error of the output, absolute error of the loss, relative error and
#: cosine of the whole gradient, and the same for the fields' own parameters.
ERRORS = ("output_error", "loss_error", "grad_error", "grad_cosine", "field_grad_error", "field_grad_cosine")
#: The columns a reference's own error is estimated in (cosines of two near-equal vectors say little).
ESTIMATED = ("output_error", "loss_error", "grad_error", "field_grad_error")


def errors(outcome: Outcome, truth: Outcome) -> dict[str, float]:
    return {"output_error": _relative(outcome.output, truth.output), "loss_error": abs(outcome.loss - truth.loss),
            "grad_error": _relative(outcome.grad, truth.grad), "grad_cosine": _cosine(outcome.grad, truth.grad),
            "field_grad_error": _relative(outcome.field_grad, truth.field_grad),
            "field_grad_cosine": _cosine(outcome.field_grad, truth.field_grad)}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.norm())
    return float((a.cpu() - b.cpu()).norm()) / scale if scale > 0 else math.nan


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(a.norm()) * float(b.norm())
    return float(a.cpu() @ b.cpu()) / scale if scale > 0 else math.nan


COSTS = ("nfe_forward", "nfe_backward", "ms_per_step", "peak_memory_mb")


@dataclass
class Measurement:
    """Means over the batches of the counts and errors; time is the median step, memory the peak."""

    nfe_forward: float
    nfe_backward: float
    ms_per_step: float
    peak_memory_mb: float  # NaN where it cannot be measured (CPU)
    errors: dict[str, float]


def measure(model: nn.Module, batches: Sequence[Batch], loss_fn: LossFn, truth: Reference | None,
            repeats: int = 1) -> Measurement:
    """Time and check training steps of ``model`` on ``batches``, leaving the model as it found it.

    A model that warm-starts gets one untimed pass over the batches first, in training mode, so that
    its solves begin from the sizes training would have remembered; then ``repeats`` timed passes,
    the first of which is compared with ``truth``. Weights, buffers (the remembered step sizes),
    gradients and the training flag are restored afterwards.
    """
    saved_state, saved_grads = copy.deepcopy(model.state_dict()), [p.grad for p in model.parameters()]
    was_training = model.training
    model.train()
    try:
        if any(isinstance(m, ODEBlock) and m.warm_start for m in model.modules()):
            for batch in batches:
                _step(model, batch, loss_fn)
        seconds, peaks, counts, found = [], [], [], []
        for repeat in range(repeats):
            for batch in batches:
                device = batch[0].device
                _sync(device)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                start = time.perf_counter()
                output, loss = _step(model, batch, loss_fn)
                _sync(device)
                seconds.append(time.perf_counter() - start)
                peaks.append(torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else math.nan)
                if repeat == 0:
                    counts.append(step_counts(model))
                    found.append(_gradient_outcome(model, output, loss, [p.grad for p in model.parameters()]))
    finally:
        model.load_state_dict(saved_state)
        for p, grad in zip(model.parameters(), saved_grads):
            p.grad = grad
        model.train(was_training)
    if truth is None or truth.outcomes is None:
        mean_errors = {name: math.nan for name in ERRORS}
    else:
        per_batch = [errors(a, b) for a, b in zip(found, truth.outcomes)]
        mean_errors = {name: statistics.fmean(e[name] for e in per_batch) for name in ERRORS}
    return Measurement(statistics.fmean(c[0] for c in counts), statistics.fmean(c[1] for c in counts),
                       1000 * statistics.median(seconds), max(peaks), mean_errors)


def _step(model: nn.Module, batch: Batch, loss_fn: LossFn) -> tuple[torch.Tensor, torch.Tensor]:
    """A training step without the optimizer's update: forward, loss, backward into ``.grad``."""
    for p in model.parameters():
        p.grad = None
    if isinstance(model, ExternalSolve):
        model.calls = 0
    x, y = batch
    output = model(x)
    loss = loss_fn(output, y)
    if isinstance(model, ExternalSolve):
        model.forward_calls = model.calls
    loss.backward()
    return output, loss.detach()


def step_counts(model: nn.Module) -> tuple[int, int]:
    """NFE of the last step: forward solve, backward pass (the blocks' own counts, or the reference's)."""
    if isinstance(model, ExternalSolve):
        return model.forward_calls, model.calls - model.forward_calls
    blocks = [m for m in model.modules() if isinstance(m, ODEBlock)]
    return (sum(b.stats.last().nfe_forward for b in blocks), sum(b.stats.last().nfe_backward for b in blocks))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
