"""``ODEBlock``: the state-level layer, between a vector field and the solver core."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch import nn

from ..models.base import VectorField
from ..models.scalars import finite_float
from .dynamics import Dynamics
from .errors import FailureKind, SolverError
from .gradients import Adjoint, Checkpoint, Direct, Problem
from .memory import Direction, StepMemory
from .options import OPTION_NAMES, SolverOptions
from .regularise import Regulariser, draw_end
from .retry import redo_cold
from .stats import SolveStats
from .stepping import Control

FORWARD, BACKWARD = Direction.FORWARD, Direction.BACKWARD
_HALF = (torch.float16, torch.bfloat16)


class ODEBlock(nn.Module):
    """Integrate a vector field from ``t0`` to ``t1``: a drop-in layer ``z0 -> z(t1)``.

    Args:
        field: a ``VectorField`` (``AdamNODE(f)``, ``HBNODE(f)``, ...).
        t0, t1: integration interval (``t1 > t0``; fields singular at 0 need ``t0 > 0``).
        options: a ``SolverOptions`` (default: ``SolverOptions()``).
        params: tensors ``f`` depends on that are not parameters of the field (needed by the
            ``checkpoint`` and ``adjoint`` gradients when ``f`` is a plain callable closing over
            them; the field's own parameters are always used).
        **changes: ``SolverOptions`` fields (``rtol=1e-6``, ``gradient="direct"``, ...) that
            override ``options``.

    ``forward(z0)`` returns ``z(t1)``; ``forward(z0, times)`` the trajectory ``[len(times), *z0.shape]``
    with ``times[0]`` as the start; ``forward(z0, args=a)`` calls ``f(t, h, a)`` instead of ``f(t, h)``
    (a driving input, per-sample constants). Tensors in ``args`` (alone, or in tuples, lists and
    dicts) get gradients on every gradient path. ``forward(z0, options=...)`` solves this call with
    other settings (a ``SolverOptions``, or a dict of changes: a tighter evaluation solve needs no
    second block); ``with_options(**changes)`` gives a block with other settings around the same
    field (weights shared, not copied). ``stats`` holds NFE and step counts (``SolveStats``).

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

    The settings are read-only (``block.options``).
    """


    def __init__(self, field: VectorField, t0: float = 0.0, t1: float = 1.0, *, options: SolverOptions | None = None,
                 params: Iterable[torch.Tensor] | None = None, **changes):
        super().__init__()
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be an adamnode VectorField (e.g. AdamNODE(f)), got {type(field).__name__}")
        self.field = field
        self.step_memory = StepMemory()
        self.stats = SolveStats()
        self._t0, self._t1 = _end_point(t0, "t0"), _end_point(t1, "t1")
        if not self._t1 > self._t0:
            raise ValueError(f"t1 must be greater than t0, got t0={self._t0}, t1={self._t1}")
        if field.needs_positive_time and self._t0 <= 0:
            raise ValueError(f"{type(field).__name__} is singular at t <= 0; use t0 > 0 (e.g. t0=1.0, t1=2.0), "
                             f"got t0={self._t0}")
        self._params = tuple(params) if params is not None else None
        self._options = self._checked_options(_merged(options, changes))
        self._end_time = self._t1
        self._trajectory: tuple[torch.Size, list[float]] | None = None
        self._penalty = torch.zeros(())
        # t0 as a tensor per (device, dtype), made once: a host-to-device copy in every solve would
        # sync a GPU and break CUDA-graph capture (the stages' times are this tensor plus host floats).
        self._start_times: dict[tuple, torch.Tensor] = {}
        # [t0, t1] rounded to each state dtype, made once: rounding builds a tensor and reads it back,
        # work every solve would repeat. Host floats, so the dtype alone decides them on any device.
        self._intervals: dict[torch.dtype, list[float]] = {}

    def _checked_options(self, options: SolverOptions) -> SolverOptions:
        if not options.steer < self._t1 - self._t0:
            raise ValueError(f"steer must be below t1 - t0 = {self._t1 - self._t0:g}, got {options.steer:g}: the "
                             "drawn end time would reach t0")
        options.check_interval(self._t0, self._t1 + options.steer)
        if options.gradient != "direct" and self._params is None and not isinstance(self.field.f, nn.Module):
            raise ValueError(f"f is a plain callable, so gradient={options.gradient!r} cannot find the tensors it "
                             "depends on: make f an nn.Module, pass params=[...] (() if it has none), or use "
                             "gradient='direct'")
        return options

    options = property(lambda self: self._options, doc="The ``SolverOptions`` (read-only).")
    t0 = property(lambda self: self._t0)
    t1 = property(lambda self: self._t1)
    warm_start = property(lambda self: self._options.warm_start and self._options.adaptive,
                          doc="Whether training solves warm-start (adaptive methods only).")
    penalty = property(lambda self: self._penalty,
                       doc="The last call's ``kinetic * r_K + jacobian * r_J`` (0-dim; constant 0 when not integrated).")
    end_time = property(lambda self: self._end_time,
                        doc="Where the last solve to the end ended: ``t1``, or the drawn end under ``steer``.")

    def with_options(self, **changes) -> "ODEBlock":
        """A block with ``changes`` applied, around this block's field (the same weights, not a copy)."""
        return ODEBlock(self.field, self._t0, self._t1, options=self._options.replace(**changes), params=self._params)

    def forward(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None = None,
                args: Any = None, options: SolverOptions | dict | None = None) -> torch.Tensor:
        settings = self._options if options is None else self._checked_options(_per_call(self._options, options))
        if settings.check_finite:
            self.field.validate_state(z0)
        else:
            self.field.validate_layout(z0)
        if z0.dtype in _HALF and settings.adaptive:
            if not torch.is_autocast_enabled(z0.device.type):
                raise ValueError(f"the adaptive solvers cannot integrate a {z0.dtype} state (their error norms and "
                                 "first-step estimate overflow in half precision); cast it with z0.float() and the "
                                 "output back, use a fixed-step method, or run under torch.autocast")
            # Under autocast f runs in low precision; the state, its error control and the step sizes
            # stay in float32, and the result comes back in the input's precision.
            return self.forward(z0.float(), times, args, options).to(z0.dtype)
        self._penalty = z0.new_zeros(())
        self.stats.start_solve()
        t, end = self._times(z0, times, settings)
        if times is None:
            self._end_time = end
        self._trajectory = None if times is None else (torch.Size([len(t), *z0.shape]), t)
        if z0.shape[0] == 0:
            return z0.clone() if times is None else z0.unsqueeze(0).repeat(len(t), *([1] * z0.dim()))
        warm = settings.warm_start and settings.adaptive and self.training
        # Drawn once per call: a solve redone cold below integrates with the same probe.
        regulariser = (Regulariser(settings.kinetic, settings.jacobian, z0)
                       if settings.regularised and self.training and torch.is_grad_enabled() else None)
        try:
            return self._solve(z0, t, times is None, args, warm, regulariser, settings)
        except SolverError as error:
            if not redo_cold(error, FORWARD):
                raise
        # A remembered first step can be too large for this input (a trial step overflows where the
        # cautious guess would not): forget it, so that this solve starts cold.
        self.step_memory.forget(FORWARD)
        self.stats.start_solve()
        return self._solve(z0, t, times is None, args, warm, regulariser, settings)

    def _solve(self, z0: torch.Tensor, t: list[float], endpoint_only: bool, args: Any, warm: bool,
               regulariser: Regulariser | None, settings: SolverOptions) -> torch.Tensor:
        adjoint = settings.gradient == "adjoint" and torch.is_grad_enabled()
        # The adjoint of a trajectory runs one backward solve per output interval, and one remembered
        # size would start all of them, whatever their lengths: those start cold.
        record = (warm, warm and adjoint and len(t) == 2)
        forward_start = self.step_memory.start(FORWARD) if record[FORWARD.value] else None
        backward_start = self.step_memory.start(BACKWARD) if record[BACKWARD.value] else None
        # With a regulariser the solver integrates the flat [z, r_K, r_J] (see solve.regularise).
        y0 = z0 if regulariser is None else regulariser.augment(z0)
        params = (*self.field.parameters(), *(self._params or ()), *_tensors(args))
        problem = Problem(
            y0=y0, times=t, t0=self._start_time(t[0], z0), method=settings.method,
            control=Control(settings.rtol, settings.atol, settings.step_size,
                            None if forward_start is None else float(forward_start),
                            None if regulariser is None else regulariser.state_norm),
            check_finite=settings.check_finite,
            dynamics=lambda backward: Dynamics(self.field, self.stats, settings.method, settings.step_budget,
                                               settings.adaptive, args=args, memory=self.step_memory, record=record,
                                               warm=(forward_start is not None, backward is not None)),
            wrap=(lambda d: d) if regulariser is None else regulariser.wrap,
            params=tuple(p for p in params if p.requires_grad))
        if not torch.is_grad_enabled():
            strategy = Direct()
        elif adjoint:
            strategy = Adjoint(settings.seminorm, self.step_memory, backward_start,
                               lambda times, direction, first=None: self._torchdiffeq_options(
                                   settings, times, direction, forward_start if direction is FORWARD else first,
                                   regulariser))
        else:
            strategy = Checkpoint(settings.checkpoint_every) if settings.gradient == "checkpoint" else Direct()
        path, dynamics = strategy.solve(problem)
        return self._checked(path, dynamics, endpoint_only, regulariser, settings)

    def start_time(self, like: torch.Tensor) -> torch.Tensor:
        """``t0`` as a tensor of ``like``'s dtype (rounded to it: 0.1 in float32 is not 0.1) on its device,
        made once per device and dtype: what the solve's stages and ``f(t0, .)`` outside it see."""
        key = (like.device, like.dtype)
        if key not in self._start_times:
            self._start_times[key] = torch.tensor(self._interval(self._t1, like.dtype)[0],
                                                  dtype=like.dtype).to(like.device)
        return self._start_times[key]

    def _start_time(self, t0: float, like: torch.Tensor) -> torch.Tensor:
        # Any start but the block's own t0 is a trajectory's: not cached, so the cache stays bounded.
        if t0 != self._interval(self._t1, like.dtype)[0]:
            return torch.tensor(t0, dtype=like.dtype).to(like.device)
        return self.start_time(like)

    def _checked(self, path: torch.Tensor, dynamics: Dynamics, endpoint_only: bool,
                 regulariser: Regulariser | None, settings: SolverOptions) -> torch.Tensor:
        # Evaluations from here on can only come from the backward pass (adjoint or replay).
        dynamics.direction = BACKWARD
        # (With a regulariser, the penalty integrals are checked along with the state: one sync.)
        if settings.check_finite and not bool(torch.isfinite(path[-1]).all()):
            raise dynamics.failure(FailureKind.NON_FINITE_SOLUTION, "the solution became NaN or Inf", FORWARD)
        if regulariser is None:
            return path[-1] if endpoint_only else path
        solution, self._penalty = regulariser.split(path, endpoint_only)
        return solution

    @staticmethod
    def _torchdiffeq_options(settings: SolverOptions, t: torch.Tensor, direction: Direction,
                             first_step: torch.Tensor | None, regulariser: Regulariser | None) -> dict:
        if not settings.adaptive:
            return {"step_size": settings.step_size}
        # One more than ours so that our own, clearer step_budget check fires first.
        options = {"max_num_steps": settings.step_budget + 1}
        if first_step is not None:
            options["first_step"] = first_step
        # Land exactly on the end of the solve instead of stepping past it and interpolating back:
        # an overshooting trial step evaluates the field outside [t0, t1] (Nesterov's k(t) is
        # undefined below 0; AdamNODE's v can swing far negative) and wastes evaluations.
        options["step_t"] = t[:1] if direction is BACKWARD else t[-1:]
        if direction is BACKWARD and settings.seminorm:
            options["norm"] = "seminorm"
        if direction is FORWARD and regulariser is not None:
            # Error control on z alone; the adjoint's norm is built from this one (solve.regularise).
            options["norm"] = regulariser.state_norm
        return options

    def _times(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None,
               settings: SolverOptions) -> tuple[list[float], float]:
        """The times of this call (host floats, rounded to the state's dtype) and where a solve to the end ends."""
        steer = settings.steer > 0 and self.training
        if times is None:
            t = self._interval(draw_end(self._t1, settings.steer) if steer else self._t1, z0.dtype)
            return t, t[-1]
        if steer:
            raise ValueError(f"steer={settings.steer:g} draws the end of each training solve, so it cannot integrate "
                             "to given times; call the block without times, or use eval mode")
        if isinstance(times, torch.Tensor) and times.requires_grad:
            raise ValueError("times require grad, but gradients with respect to the output times are not computed; "
                             "pass times.detach()")
        values = torch.as_tensor(times, dtype=z0.dtype).detach().cpu()
        if values.dim() != 1 or values.numel() < 2 or not bool((values[1:] > values[:-1]).all()):
            raise ValueError("times must be a strictly increasing 1-D sequence of at least two times")
        if not bool(torch.isfinite(values).all()):
            raise ValueError("times must be finite")
        if self.field.needs_positive_time and not bool(values[0] > 0):
            raise ValueError(f"{type(self.field).__name__} is singular at t <= 0; times must start above 0")
        t = values.tolist()
        settings.check_interval(t[0], t[-1])
        return t, float("nan")

    def _interval(self, end: float, dtype: torch.dtype) -> list[float]:
        """``[t0, end]`` rounded to ``dtype``, as the field will see them."""
        if end != self._t1:  # a drawn end (steer): not cached, so the cache stays bounded
            return torch.tensor([self._t0, end], dtype=dtype).tolist()
        if dtype not in self._intervals:
            self._intervals[dtype] = torch.tensor([self._t0, end], dtype=dtype).tolist()
        return self._intervals[dtype]

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden state ``h`` of the last call's output ``z``, for a readout.

        After a solve to the end, ``h`` at ``end_time``: ``t1``, or the drawn end of a STEER training
        solve (Nesterov's ``h`` depends on the time). After a trajectory, ``h`` at each of its times,
        ``[times, batch, *features]``. Any other shape is refused rather than read wrongly.
        """
        if self._trajectory is None:
            return self.field.hidden(z, self._end_time)
        shape, times = self._trajectory
        if z.shape != shape:
            raise ValueError(f"hidden reads the last call's output, a trajectory of shape {tuple(shape)}; got "
                             f"{tuple(z.shape)} (for another state use field.hidden(z, t))")
        return torch.stack([self.field.hidden(z[i], t) for i, t in enumerate(times)])

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        return self.field.initial_state(h0, m0)

    def extra_repr(self) -> str:
        o = self._options
        tol = f"rtol={o.rtol:g}, atol={o.atol:g}" if o.adaptive else f"step_size={o.step_size:g}"
        extra = "".join(f", {name}={getattr(o, name):g}" for name in ("kinetic", "jacobian", "steer")
                        if getattr(o, name) > 0)
        return (f"t0={self.t0:g}, t1={self.t1:g}, method={o.method!r}, {tol}, gradient={o.gradient!r}, "
                f"warm_start={self.warm_start}{extra}")


def _end_point(value, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.requires_grad:
        raise ValueError(f"{name} requires grad, but the integration interval is not learned: a learnable {name} "
                         f"would get no gradient; pass a float (or {name}.detach())")
    return finite_float(value, name)


def _merged(options: SolverOptions | None, changes: dict) -> SolverOptions:
    if options is not None and not isinstance(options, SolverOptions):
        raise ValueError(f"options must be a SolverOptions, got {type(options).__name__}")
    if "adjoint_params" in changes:
        raise ValueError("adjoint_params= is now params= (the tensors f depends on besides the field's parameters)")
    return _changed(options or SolverOptions(), changes)


def _changed(options: SolverOptions, changes: dict) -> SolverOptions:
    unknown = sorted(set(changes) - set(OPTION_NAMES) - {"adjoint"})
    if unknown:
        raise ValueError(f"unknown solver setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"the settings are {', '.join(OPTION_NAMES)}")
    if "adjoint" in changes:
        raise ValueError("adjoint= is gone: say gradient='adjoint' (the continuous adjoint), 'checkpoint' or 'direct'")
    return options.replace(**changes) if changes else options


def _per_call(options: SolverOptions, given: SolverOptions | dict) -> SolverOptions:
    if isinstance(given, SolverOptions):
        return given
    if isinstance(given, dict):
        return _changed(options, given)
    raise ValueError(f"options must be a SolverOptions or a dict of changes, got {type(given).__name__}")


def _tensors(args: Any) -> list[torch.Tensor]:
    """The tensors in ``args``: itself, or those in (nested) tuples, lists and dict values."""
    if isinstance(args, torch.Tensor):
        return [args]
    if isinstance(args, (tuple, list)):
        return [tensor for item in args for tensor in _tensors(item)]
    if isinstance(args, dict):
        return [tensor for item in args.values() for tensor in _tensors(item)]
    return []
