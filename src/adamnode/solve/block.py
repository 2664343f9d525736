"""``ODEBlock``: the one adapter between a vector field and torchdiffeq."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from ..models.base import VectorField
from ..models.scalars import finite_float
from . import fixed
from .dynamics import Dynamics
from .errors import FailureKind, SolverError
from .memory import Direction, StepMemory
from .options import SolverOptions
from .stats import Counter, SolveStats

FORWARD, BACKWARD = Direction.FORWARD, Direction.BACKWARD
_HALF = (torch.float16, torch.bfloat16)


class ODEBlock(nn.Module):
    """Integrate a vector field from ``t0`` to ``t1``: a drop-in layer ``z0 -> z(t1)``.

    Args:
        field: a ``VectorField`` (``AdamNODE(f)``, ``HBNODE(f)``, ...).
        t0, t1: integration interval (``t1 > t0``; fields singular at 0 need ``t0 > 0``).
        method, rtol, atol, adjoint, seminorm, warm_start, step_size, max_steps, check_finite:
            the solver settings, see ``SolverOptions``; given as keywords they override ``options``.
        adjoint_params: tensors ``f`` depends on that are not parameters of the field (needed when
            ``f`` is a plain callable closing over them; the field's own parameters are always used).
        options: a ``SolverOptions`` (default: ``SolverOptions()``).

    ``forward(z0)`` returns ``z(t1)``; ``forward(z0, times)`` the trajectory ``[len(times), *z0.shape]``
    with ``times[0]`` as the start; ``forward(z0, args=a)`` calls ``f(t, h, a)`` instead of ``f(t, h)``
    (a driving input, per-sample constants). Tensors in ``args`` (alone, or in tuples, lists and
    dicts) get gradients under the adjoint as under direct backprop. ``stats`` holds NFE and step
    counts (``SolveStats``).

    Warm starts (``warm_start=True``, adaptive methods, training mode only): each solve starts from
    the step size the error control chose near the start of the previous training solve, forward and
    adjoint separately (``step_memory``, saved with the weights). It saves the first-step guess's
    extra evaluation and usually a step each way; the answer is then as accurate as the tolerance
    asks, no more. A warm solve that fails for any reason but running out of steps is redone once
    from torchdiffeq's cautious guess, by the block itself: a forward solve at once, an adjoint solve
    inside ``backward()`` (the forward solve is repeated from the same start to rebuild what the
    adjoint needs; the failed attempt's evaluations are counted). The size that failed is forgotten.
    Eval mode never warm-starts, so its outputs depend on the input alone.

    The settings are read-only (``block.options``): build another block for other settings.
    """

    def __init__(
        self,
        field: VectorField,
        t0: float = 0.0,
        t1: float = 1.0,
        method: str | None = None,
        rtol: float | None = None,
        atol: float | None = None,
        adjoint: bool | None = None,
        seminorm: bool | None = None,
        warm_start: bool | None = None,
        step_size: float | None = None,
        max_steps: int | None = None,
        check_finite: bool | None = None,
        adjoint_params: Iterable[torch.Tensor] | None = None,
        *,
        options: SolverOptions | None = None,
    ):
        super().__init__()
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be an adamnode VectorField (e.g. AdamNODE(f)), got {type(field).__name__}")
        if options is not None and not isinstance(options, SolverOptions):
            raise ValueError(f"options must be a SolverOptions, got {type(options).__name__}")
        given = dict(method=method, rtol=rtol, atol=atol, adjoint=adjoint, seminorm=seminorm, warm_start=warm_start,
                     step_size=step_size, max_steps=max_steps, check_finite=check_finite)
        options = (options or SolverOptions()).replace(**{k: v for k, v in given.items() if v is not None})
        t0, t1 = finite_float(t0, "t0"), finite_float(t1, "t1")
        if not t1 > t0:
            raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
        if field.needs_positive_time and t0 <= 0:
            raise ValueError(f"{type(field).__name__} is singular at t <= 0; use t0 > 0 (e.g. t0=1.0, t1=2.0), got t0={t0}")
        options.check_interval(t0, t1)
        if options.adjoint and adjoint_params is None and not isinstance(field.f, nn.Module):
            raise ValueError("f is a plain callable, so the adjoint cannot find the tensors it depends on: "
                             "make f an nn.Module, pass adjoint_params=[...] (() if it has none), or adjoint=False")
        self.field = field
        self.step_memory = StepMemory()
        self.stats = SolveStats()
        self._t0, self._t1, self._options = t0, t1, options
        self._extra_adjoint_params = tuple(adjoint_params) if adjoint_params is not None else ()
        # Time tensors per (device, dtype), made once: no per-call host-to-device copies, which
        # cost a sync and would break CUDA-graph capture.
        self._time_cache: dict[tuple, torch.Tensor] = {}

    options = property(lambda self: self._options, doc="The ``SolverOptions`` (read-only).")
    t0 = property(lambda self: self._t0)
    t1 = property(lambda self: self._t1)
    method = property(lambda self: self._options.method)
    rtol = property(lambda self: self._options.rtol)
    atol = property(lambda self: self._options.atol)
    step_size = property(lambda self: self._options.step_size)
    adjoint = property(lambda self: self._options.adjoint)
    seminorm = property(lambda self: self._options.seminorm)
    max_steps = property(lambda self: self._options.max_steps)
    check_finite = property(lambda self: self._options.check_finite)
    warm_start = property(lambda self: self._options.warm_start and self._options.adaptive,
                          doc="Whether training solves warm-start (adaptive methods only).")

    def forward(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None = None,
                args: Any = None) -> torch.Tensor:
        if self.check_finite:
            self.field.validate_state(z0)
        else:
            self.field.validate_layout(z0)
        if z0.dtype in _HALF and self._options.adaptive:
            raise ValueError(f"the adaptive solvers cannot integrate a {z0.dtype} state (their error norms and "
                             "first-step estimate overflow in half precision); cast it with z0.float() and the "
                             "output back, or use a fixed-step method")
        t = self._times(z0, times)
        if z0.shape[0] == 0:
            return z0.clone() if times is None else z0.unsqueeze(0).repeat(len(t), *([1] * z0.dim()))
        warm = self.warm_start and self.training
        try:
            return self._solve(z0, t, times is None, args, warm)
        except SolverError as error:
            if not _redo_cold(error, FORWARD):
                raise
        # A remembered first step can be too large for this input (a trial step overflows where the
        # cautious guess would not): forget it, so that this solve starts cold.
        self.step_memory.forget(FORWARD)
        return self._solve(z0, t, times is None, args, warm)

    def _solve(self, z0: torch.Tensor, t: torch.Tensor, endpoint_only: bool, args: Any, warm: bool) -> torch.Tensor:
        self.stats.start_solve()
        adjoint = self.adjoint and torch.is_grad_enabled()
        # The adjoint of a trajectory runs one backward solve per output interval; the step after
        # the first accepted one of such a pass would be the next interval's start, not a proposal.
        record = (warm, warm and adjoint and len(t) == 2)
        forward_start = self.step_memory.start(FORWARD) if record[FORWARD] else None
        self.field.check_next_f_output()
        if not adjoint:
            dynamics = self._dynamics(args, record, forward_start, None)
            if endpoint_only and self.method in fixed.TABLEAUX:
                path = (fixed.integrate(dynamics, z0, self._cached_times("stages", z0),
                                        fixed.step_sizes(self.t0, self.t1, self.step_size), self.method,
                                        on_step=lambda: self.stats.add(Counter.STEPS_FORWARD)),)
            else:
                path = _translated(dynamics, lambda: odeint(
                    dynamics, z0, t, rtol=self.rtol, atol=self.atol, method=self.method,
                    options=self._torchdiffeq_options(t, FORWARD, forward_start)))
            return self._checked(path, dynamics, endpoint_only)
        params = (*self.field.parameters(), *self._extra_adjoint_params, *_tensors(args))
        params = tuple(p for p in params if p.requires_grad)

        def attempt(y0: torch.Tensor, backward_start: torch.Tensor | None) -> tuple[torch.Tensor, Dynamics]:
            dynamics = self._dynamics(args, record, forward_start, backward_start)
            solution = _translated(dynamics, lambda: odeint_adjoint(
                dynamics, y0, t, rtol=self.rtol, atol=self.atol, method=self.method,
                options=self._torchdiffeq_options(t, FORWARD, forward_start),
                adjoint_options=self._torchdiffeq_options(t, BACKWARD, backward_start), adjoint_params=params))
            return solution, dynamics

        backward_start = self.step_memory.start(BACKWARD) if record[BACKWARD] else None
        if backward_start is None:
            path, dynamics = attempt(z0, None)
        else:
            retry = _ColdRetry(attempt, backward_start, self.step_memory)
            path = _AdjointWithColdRetry.apply(retry, z0, *params)
            dynamics = retry.dynamics
        return self._checked(path, dynamics, endpoint_only)

    def _dynamics(self, args: Any, record: tuple[bool, bool], forward_start, backward_start) -> Dynamics:
        return Dynamics(self.field, self.stats, self.method, self.max_steps, self._options.adaptive, args=args,
                        memory=self.step_memory, record=record,
                        warm=(forward_start is not None, backward_start is not None))

    def _checked(self, path, dynamics: Dynamics, endpoint_only: bool) -> torch.Tensor:
        # Evaluations from here on can only come from the adjoint's backward pass.
        dynamics.direction = BACKWARD
        if self.check_finite and not bool(torch.isfinite(path[-1]).all()):
            raise dynamics.failure(FailureKind.NON_FINITE_SOLUTION, "the solution became NaN or Inf", FORWARD)
        return path[-1] if endpoint_only else path

    def _torchdiffeq_options(self, t: torch.Tensor, direction: Direction, first_step: torch.Tensor | None) -> dict:
        if not self._options.adaptive:
            return {"step_size": self.step_size}
        # One more than ours so that our own, clearer max_steps check fires first.
        options = {"max_num_steps": self.max_steps + 1}
        if first_step is not None:
            options["first_step"] = first_step
        # Land exactly on the end of the solve instead of stepping past it and interpolating back:
        # an overshooting trial step evaluates the field outside [t0, t1] (Nesterov's k(t) is
        # undefined below 0; AdamNODE's v can swing far negative) and wastes evaluations.
        options["step_t"] = t[:1] if direction is BACKWARD else t[-1:]
        if direction is BACKWARD and self.seminorm:
            options["norm"] = "seminorm"
        return options

    def _cached_times(self, kind: str, like: torch.Tensor) -> torch.Tensor:
        key = (kind, like.device, like.dtype)
        if key not in self._time_cache:
            values = (torch.tensor([self.t0, self.t1], dtype=torch.float64) if kind == "interval"
                      else fixed.stage_times(self.t0, self.t1, self.step_size, self.method))
            self._time_cache[key] = values.to(device=like.device, dtype=like.dtype)
        return self._time_cache[key]

    def _times(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None) -> torch.Tensor:
        if times is None:
            # Same dtype as the state: user networks that concatenate t must not see float64.
            return self._cached_times("interval", z0)
        times = torch.as_tensor(times, device=z0.device, dtype=z0.dtype)
        if times.dim() != 1 or times.numel() < 2 or not bool((times[1:] > times[:-1]).all()):
            raise ValueError("times must be a strictly increasing 1-D sequence of at least two times")
        if self.field.needs_positive_time and not bool(times[0] > 0):
            raise ValueError(f"{type(self.field).__name__} is singular at t <= 0; times must start above 0")
        if not self._options.adaptive:
            self._options.check_interval(float(times[0]), float(times[-1]))
        return times

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden state ``h`` of ``z = z(t1)`` for a readout."""
        return self.field.hidden(z, self.t1)

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        return self.field.initial_state(h0, m0)

    def extra_repr(self) -> str:
        o = self._options
        tol = f"rtol={o.rtol:g}, atol={o.atol:g}" if o.adaptive else f"step_size={o.step_size:g}"
        return (f"t0={self.t0:g}, t1={self.t1:g}, method={o.method!r}, {tol}, adjoint={o.adjoint}, "
                f"seminorm={o.seminorm}, warm_start={self.warm_start}")


class _ColdRetry:
    """One adjoint solve whose backward pass starts warm and is redone cold if that fails."""

    def __init__(self, attempt: Callable, backward_start: torch.Tensor, memory: StepMemory):
        self.attempt, self.backward_start, self.memory = attempt, backward_start, memory
        self.dynamics: Dynamics | None = None


class _AdjointWithColdRetry(torch.autograd.Function):
    """``odeint_adjoint`` whose backward pass, if its warm start fails, is redone from the cautious guess.

    The forward builds torchdiffeq's adjoint graph inside (grad enabled); the backward runs it and,
    on a retryable failure, forgets the backward size, solves forward again from the same start
    (the same steps, so the same solution) and runs the fresh graph's adjoint cold.
    """

    @staticmethod
    def forward(ctx, retry: _ColdRetry, z0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            y0 = z0.detach().requires_grad_(z0.requires_grad)
            path, retry.dynamics = retry.attempt(y0, retry.backward_start)
        ctx.retry, ctx.y0, ctx.path, ctx.params = retry, y0, path, params
        return path.detach()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        retry, inputs = ctx.retry, (ctx.y0, *ctx.params)
        wanted = [x for x in inputs if x.requires_grad]
        try:
            grads = torch.autograd.grad(ctx.path, wanted, grad, allow_unused=True)
        except SolverError as error:
            if not _redo_cold(error, BACKWARD):
                raise
            retry.memory.forget(BACKWARD)
            with torch.enable_grad():
                path, dynamics = retry.attempt(ctx.y0, None)
            dynamics.direction = BACKWARD
            grads = torch.autograd.grad(path, wanted, grad, allow_unused=True)
        by_input = iter(grads)
        return (None, *(next(by_input) if x.requires_grad else None for x in inputs))


def _redo_cold(error: SolverError, direction: Direction) -> bool:
    """Whether a failed solve is redone from torchdiffeq's guess: it was warm and did not run out of steps."""
    return error.warm_started and error.phase == direction.phase and error.kind is not FailureKind.MAX_STEPS


def _translated(dynamics: Dynamics, solve: Callable[[], Any]) -> Any:
    """``solve()``, with torchdiffeq's own assertions turned into a ``SolverError``; the field's pass through."""
    try:
        return solve()
    except AssertionError as error:
        if dynamics.field_raised:
            raise
        raise dynamics.failure(FailureKind.SOLVER_STOPPED, f"torchdiffeq stopped ({error})",
                               dynamics.direction) from None


def _tensors(args: Any) -> list[torch.Tensor]:
    """The tensors in ``args``: itself, or those in (nested) tuples, lists and dict values."""
    if isinstance(args, torch.Tensor):
        return [args]
    if isinstance(args, (tuple, list)):
        return [tensor for item in args for tensor in _tensors(item)]
    if isinstance(args, dict):
        return [tensor for item in args.values() for tensor in _tensors(item)]
    return []
