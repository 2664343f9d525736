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
from .regularise import Regulariser, draw_end
from .retry import AdjointWithColdRetry, ColdRetry, redo_cold
from .stats import Counter, SolveStats

FORWARD, BACKWARD = Direction.FORWARD, Direction.BACKWARD
_HALF = (torch.float16, torch.bfloat16)


class ODEBlock(nn.Module):
    """Integrate a vector field from ``t0`` to ``t1``: a drop-in layer ``z0 -> z(t1)``.

    Args:
        field: a ``VectorField`` (``AdamNODE(f)``, ``HBNODE(f)``, ...).
        t0, t1: integration interval (``t1 > t0``; fields singular at 0 need ``t0 > 0``).
        method, rtol, atol, adjoint, seminorm, warm_start, step_size, step_budget, check_finite, kinetic,
            jacobian, steer: the solver settings, see ``SolverOptions``; given as keywords they
            override ``options``.
        adjoint_params: tensors ``f`` depends on that are not parameters of the field (needed when
            ``f`` is a plain callable closing over them; the field's own parameters are always used).
        options: a ``SolverOptions`` (default: ``SolverOptions()``).

    ``forward(z0)`` returns ``z(t1)``; ``forward(z0, times)`` the trajectory ``[len(times), *z0.shape]``
    with ``times[0]`` as the start; ``forward(z0, args=a)`` calls ``f(t, h, a)`` instead of ``f(t, h)``
    (a driving input, per-sample constants). Tensors in ``args`` (alone, or in tuples, lists and
    dicts) get gradients under the adjoint as under direct backprop. ``stats`` holds NFE and step
    counts (``SolveStats``).

    Warm starts (``warm_start=True``, off by default; adaptive methods, training mode only): each
    solve starts from the first step the previous training solve accepted, forward and adjoint
    separately (``step_memory``, saved with the weights), instead of torchdiffeq's first-step guess.
    That saves the guess's one evaluation per solve. The risk, and why it is off: the guess looks at
    how fast the field changes near the start, the remembered size does not. A trained AdamNODE
    starts fast (``v`` climbs to ``f**2`` in ~1/f**2), dopri5's error estimate understates the error
    of larger first steps ~40-fold there, and a remembered step accepted when training began is
    accepted again long after it stopped being accurate (spheres: outputs 20x less accurate than
    cold at tol 1e-3; docs/results/benchmarks/warm_accuracy.md). The first accepted step is kept,
    not the controller's proposal after it: proposals ratchet the start up tenfold per solve. A
    warm solve that fails for any reason but running out of steps is redone once from
    torchdiffeq's cautious guess, by the block itself: a forward solve at once, an adjoint solve
    inside ``backward()`` (the forward solve is repeated from the same start to rebuild what the
    adjoint needs; the failed attempt's evaluations are counted). The size that failed is forgotten.
    Eval mode never warm-starts, so its outputs depend on the input alone.

    Regularisers (``kinetic``, ``jacobian``: RNODE; ``steer``: STEER; see ``solve.regularise``). In
    training mode with grad enabled and a weight above 0, the solve integrates the penalty
    integrals alongside the state (each augmented evaluation is one field evaluation in ``stats``,
    plus one vector-Jacobian product for ``jacobian``); ``penalty`` is then
    ``kinetic * r_K(t1) + jacobian * r_J(t1)``, differentiable, for the caller to add to the loss.
    Otherwise (weights 0, eval mode, ``torch.no_grad()``) nothing extra is computed and ``penalty``
    is a constant 0. With ``steer=b`` each training-mode solve ends at a time drawn uniformly from
    ``[t1 - b, t1 + b]`` (``end_time``; ``hidden`` reads the state there); trajectories refuse it.

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
        step_budget: int | None = None,
        check_finite: bool | None = None,
        kinetic: float | None = None,
        jacobian: float | None = None,
        steer: float | None = None,
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
                     step_size=step_size, step_budget=step_budget, check_finite=check_finite, kinetic=kinetic,
                     jacobian=jacobian, steer=steer)
        options = (options or SolverOptions()).replace(**{k: v for k, v in given.items() if v is not None})
        t0, t1 = finite_float(t0, "t0"), finite_float(t1, "t1")
        if not t1 > t0:
            raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
        if field.needs_positive_time and t0 <= 0:
            raise ValueError(f"{type(field).__name__} is singular at t <= 0; use t0 > 0 (e.g. t0=1.0, t1=2.0), got t0={t0}")
        if not options.steer < t1 - t0:
            raise ValueError(f"steer must be below t1 - t0 = {t1 - t0:g} (--steer), got {options.steer:g}: the "
                             "drawn end time would reach t0")
        options.check_interval(t0, t1 + options.steer)
        if options.adjoint and adjoint_params is None and not isinstance(field.f, nn.Module):
            raise ValueError("f is a plain callable, so the adjoint cannot find the tensors it depends on: "
                             "make f an nn.Module, pass adjoint_params=[...] (() if it has none), or adjoint=False")
        self.field = field
        self.step_memory = StepMemory()
        self.stats = SolveStats()
        self._t0, self._t1, self._options = t0, t1, options
        self._end_time = t1
        self._penalty = torch.zeros(())
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
    step_budget = property(lambda self: self._options.step_budget)
    check_finite = property(lambda self: self._options.check_finite)
    warm_start = property(lambda self: self._options.warm_start and self._options.adaptive,
                          doc="Whether training solves warm-start (adaptive methods only).")
    kinetic = property(lambda self: self._options.kinetic)
    jacobian = property(lambda self: self._options.jacobian)
    steer = property(lambda self: self._options.steer)
    penalty = property(lambda self: self._penalty,
                       doc="The last call's ``kinetic * r_K + jacobian * r_J`` (0-dim; constant 0 when not integrated).")
    end_time = property(lambda self: self._end_time,
                        doc="Where the last solve to the end ended: ``t1``, or the drawn end under ``steer``.")

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
        self._penalty = z0.new_zeros(())
        t, end = self._times(z0, times)
        if times is None:
            self._end_time = end
        if z0.shape[0] == 0:
            return z0.clone() if times is None else z0.unsqueeze(0).repeat(len(t), *([1] * z0.dim()))
        warm = self.warm_start and self.training
        # Drawn once per call: a solve redone cold below integrates with the same probe.
        regulariser = (Regulariser(self.kinetic, self.jacobian, z0)
                       if self._options.regularised and self.training and torch.is_grad_enabled() else None)
        try:
            return self._solve(z0, t, end, times is None, args, warm, regulariser)
        except SolverError as error:
            if not redo_cold(error, FORWARD):
                raise
        # A remembered first step can be too large for this input (a trial step overflows where the
        # cautious guess would not): forget it, so that this solve starts cold.
        self.step_memory.forget(FORWARD)
        return self._solve(z0, t, end, times is None, args, warm, regulariser)

    def _solve(self, z0: torch.Tensor, t: torch.Tensor, end: float, endpoint_only: bool, args: Any, warm: bool,
               regulariser: Regulariser | None) -> torch.Tensor:
        self.stats.start_solve()
        adjoint = self.adjoint and torch.is_grad_enabled()
        # The adjoint of a trajectory runs one backward solve per output interval, and one remembered
        # size would start all of them, whatever their lengths: those start cold.
        record = (warm, warm and adjoint and len(t) == 2)
        forward_start = self.step_memory.start(FORWARD) if record[FORWARD] else None
        self.field.check_next_f_output()
        # With a regulariser the solver integrates the flat [z, r_K, r_J] (see solve.regularise).
        y0 = z0 if regulariser is None else regulariser.augment(z0)
        options = self._torchdiffeq_options(t, FORWARD, forward_start, regulariser)

        def func(dynamics: Dynamics):
            return dynamics if regulariser is None else regulariser.wrap(dynamics)

        if not adjoint:
            dynamics = self._dynamics(args, record, forward_start, None)
            if endpoint_only and self.method in fixed.TABLEAUX:
                stages = (self._cached_times("stages", z0) if end == self.t1 else
                          fixed.stage_times(self.t0, end, self.step_size, self.method).to(z0))
                path = fixed.integrate(func(dynamics), y0, stages, fixed.step_sizes(self.t0, end, self.step_size),
                                       self.method, on_step=lambda: self.stats.add(Counter.STEPS_FORWARD))[None]
            else:
                path = _translated(dynamics, lambda: odeint(
                    func(dynamics), y0, t, rtol=self.rtol, atol=self.atol, method=self.method, options=options))
            return self._checked(path, dynamics, endpoint_only, regulariser)
        params = (*self.field.parameters(), *self._extra_adjoint_params, *_tensors(args))
        params = tuple(p for p in params if p.requires_grad)

        def attempt(y0: torch.Tensor, backward_start: torch.Tensor | None) -> tuple[torch.Tensor, Dynamics]:
            dynamics = self._dynamics(args, record, forward_start, backward_start)
            solution = _translated(dynamics, lambda: odeint_adjoint(
                func(dynamics), y0, t, rtol=self.rtol, atol=self.atol, method=self.method, options=options,
                adjoint_options=self._torchdiffeq_options(t, BACKWARD, backward_start), adjoint_params=params))
            return solution, dynamics

        backward_start = self.step_memory.start(BACKWARD) if record[BACKWARD] else None
        if backward_start is None:
            path, dynamics = attempt(y0, None)
        else:
            retry = ColdRetry(attempt, backward_start, self.step_memory)
            path = AdjointWithColdRetry.apply(retry, y0, *params)
            dynamics = retry.dynamics
        return self._checked(path, dynamics, endpoint_only, regulariser)

    def _dynamics(self, args: Any, record: tuple[bool, bool], forward_start, backward_start) -> Dynamics:
        return Dynamics(self.field, self.stats, self.method, self.step_budget, self._options.adaptive, args=args,
                        memory=self.step_memory, record=record,
                        warm=(forward_start is not None, backward_start is not None))

    def _checked(self, path: torch.Tensor, dynamics: Dynamics, endpoint_only: bool,
                 regulariser: Regulariser | None) -> torch.Tensor:
        # Evaluations from here on can only come from the adjoint's backward pass.
        dynamics.direction = BACKWARD
        # (With a regulariser, the penalty integrals are checked along with the state: one sync.)
        if self.check_finite and not bool(torch.isfinite(path[-1]).all()):
            raise dynamics.failure(FailureKind.NON_FINITE_SOLUTION, "the solution became NaN or Inf", FORWARD)
        if regulariser is None:
            return path[-1] if endpoint_only else path
        solution, self._penalty = regulariser.split(path, endpoint_only)
        return solution

    def _torchdiffeq_options(self, t: torch.Tensor, direction: Direction, first_step: torch.Tensor | None,
                             regulariser: Regulariser | None = None) -> dict:
        if not self._options.adaptive:
            return {"step_size": self.step_size}
        # One more than ours so that our own, clearer step_budget check fires first.
        options = {"max_num_steps": self.step_budget + 1}
        if first_step is not None:
            options["first_step"] = first_step
        # Land exactly on the end of the solve instead of stepping past it and interpolating back:
        # an overshooting trial step evaluates the field outside [t0, t1] (Nesterov's k(t) is
        # undefined below 0; AdamNODE's v can swing far negative) and wastes evaluations.
        options["step_t"] = t[:1] if direction is BACKWARD else t[-1:]
        if direction is BACKWARD and self.seminorm:
            options["norm"] = "seminorm"
        if direction is FORWARD and regulariser is not None:
            # Error control on z alone; the adjoint's norm is built from this one (solve.regularise).
            options["norm"] = regulariser.state_norm
        return options

    def _cached_times(self, kind: str, like: torch.Tensor) -> torch.Tensor:
        key = (kind, like.device, like.dtype)
        if key not in self._time_cache:
            values = (torch.tensor([self.t0, self.t1], dtype=torch.float64) if kind == "interval"
                      else fixed.stage_times(self.t0, self.t1, self.step_size, self.method))
            self._time_cache[key] = values.to(device=like.device, dtype=like.dtype)
        return self._time_cache[key]

    def _times(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None) -> tuple[torch.Tensor, float]:
        """The time tensor of this call and (for a solve to the end) where it ends."""
        steer = self.steer > 0 and self.training
        if times is None and not steer:
            # Same dtype as the state: user networks that concatenate t must not see float64.
            return self._cached_times("interval", z0), self.t1
        if times is None:
            end = draw_end(self.t1, self.steer)
            # Rounded to the state's dtype, as the solver will see it.
            t = torch.tensor([self.t0, end], dtype=z0.dtype)
            return t.to(z0.device), float(t[-1])
        if steer:
            raise ValueError(f"steer={self.steer:g} draws the end of each training solve, so it cannot integrate "
                             "to given times; call the block without times, or use eval mode")
        times = torch.as_tensor(times, device=z0.device, dtype=z0.dtype)
        if times.dim() != 1 or times.numel() < 2 or not bool((times[1:] > times[:-1]).all()):
            raise ValueError("times must be a strictly increasing 1-D sequence of at least two times")
        if self.field.needs_positive_time and not bool(times[0] > 0):
            raise ValueError(f"{type(self.field).__name__} is singular at t <= 0; times must start above 0")
        if not self._options.adaptive:
            self._options.check_interval(float(times[0]), float(times[-1]))
        return times, float("nan")

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden state ``h`` of ``z``, the output of the last solve to the end, for a readout.

        Read at ``end_time``: ``t1``, or the drawn end of a STEER training solve (Nesterov's ``h``
        depends on the time).
        """
        return self.field.hidden(z, self._end_time)

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        return self.field.initial_state(h0, m0)

    def extra_repr(self) -> str:
        o = self._options
        tol = f"rtol={o.rtol:g}, atol={o.atol:g}" if o.adaptive else f"step_size={o.step_size:g}"
        extra = "".join(f", {name}={getattr(o, name):g}" for name in ("kinetic", "jacobian", "steer")
                        if getattr(o, name) > 0)
        return (f"t0={self.t0:g}, t1={self.t1:g}, method={o.method!r}, {tol}, adjoint={o.adjoint}, "
                f"seminorm={o.seminorm}, warm_start={self.warm_start}{extra}")


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
