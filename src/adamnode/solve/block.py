"""``ODEBlock``: the one adapter between a vector field and torchdiffeq."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from ..models.base import VectorField
from ..models.scalars import finite_float
from . import fixed
from .errors import SolverError
from .stats import NFE_BACKWARD, NFE_FORWARD, STEPS_BACKWARD, STEPS_FORWARD, SolveStats

ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED_STEP_METHODS = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams")
# Directions of a solve: rows of ODEBlock.first_steps, indices of PHASES.
FORWARD, BACKWARD = 0, 1
PHASES = ("forward", "backward")
MAX_STEPS_REASON = "more than max_steps"


class _Dynamics:
    """What torchdiffeq integrates: the field plus counting and failure diagnosis.

    Not an ``nn.Module`` so the field's parameters are registered once (under ``ODEBlock.field``);
    the adjoint receives them explicitly. One is made per solve from the block's current field, so
    replicas (``nn.DataParallel``) each integrate their own copy.
    """

    def __init__(self, field: VectorField, stats: SolveStats, method: str, max_steps: int,
                 first_steps: torch.Tensor | None = None, record: tuple[bool, bool] = (False, False),
                 warm: tuple[bool, bool] = (False, False)):
        self.field, self.stats, self.method, self.max_steps = field, stats, method, max_steps
        self.adaptive = method in ADAPTIVE_METHODS
        self.in_forward = True
        self.last_t = self.last_dt = self.last_eval_t = math.nan
        self.last_dz: torch.Tensor | None = None
        # Per direction (FORWARD, BACKWARD): whether to record the step size for the next solve's
        # warm start into first_steps, and whether this solve started from a remembered size.
        self.first_steps, self.record, self.warm = first_steps, record, warm
        self.accepted = [0, 0]
        self.proposal_recorded = [False, False]
        # Whether every evaluation of the current step was finite (a device flag: no sync per call).
        self.step_finite: torch.Tensor | None = None
        if self.adaptive:
            # Set only here: torchdiffeq warns about callbacks a solver does not support.
            self.callback_accept_step = lambda t0, y0, dt: self._on_accept(FORWARD, dt)
            self.callback_accept_step_adjoint = lambda t0, y0, dt: self._on_accept(BACKWARD, dt)

    def __call__(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # Evaluations outside ODEBlock.forward can only come from the adjoint's backward pass.
        self.stats.add(NFE_FORWARD if self.in_forward else NFE_BACKWARD)
        dz = self.field(t, z)
        self.last_eval_t, self.last_dz = t, dz.detach()
        if self.adaptive:
            finite = torch.isfinite(self.last_dz).all()
            self.step_finite = finite if self.step_finite is None else self.step_finite & finite
        return dz

    def callback_step(self, t0: torch.Tensor, y0, dt: torch.Tensor) -> None:
        self._on_step(FORWARD, t0, dt)

    def callback_step_adjoint(self, t0: torch.Tensor, y0, dt: torch.Tensor) -> None:
        self._on_step(BACKWARD, t0, dt)
        # In the forward pass torchdiffeq's own assertion is caught by ODEBlock.forward; here it
        # would escape from loss.backward() as a bare AssertionError, so check first.
        if self.adaptive and not all(bool(torch.isfinite(part).all()) for part in _parts(y0)):
            raise self.failure("the adjoint state became NaN or Inf (non-finite gradients)", "backward")

    def _on_step(self, direction: int, t0: torch.Tensor, dt: torch.Tensor) -> None:
        counter, phase = (STEPS_FORWARD, STEPS_BACKWARD)[direction], PHASES[direction]
        self.stats.add(counter)
        self.step_finite = None
        self.last_t, self.last_dt = t0, dt
        if self.stats.current(counter) > self.max_steps:
            raise self.failure(f"{MAX_STEPS_REASON}={self.max_steps} steps", phase)
        # torchdiffeq would stop here with a bare AssertionError; raise ours with the diagnosis.
        if self.adaptive and bool(t0 + dt == t0):
            # torchdiffeq replaces a NaN/Inf step size by 0: the error estimate itself was non-finite.
            non_finite = "NaN or Inf in a trial step" + (" (field or its gradient)" if phase == "backward" else "")
            raise self.failure(non_finite if bool(dt == 0) else "step size underflow", phase)
        if self.record[direction] and self.accepted[direction] == 1 and not self.proposal_recorded[direction]:
            # The controller's proposal after the first accepted step: its estimate, from a measured
            # local error, of the step the dynamics allow near the start of the solve.
            self.first_steps[direction].copy_(dt.detach())
            self.proposal_recorded[direction] = True

    def _on_accept(self, direction: int, dt: torch.Tensor) -> None:
        # A trial step that overflows to Inf makes torchdiffeq's error scale Inf and its error
        # ratio 0, so it would be accepted and pass NaN on (seen with an oversized first step).
        if self.step_finite is not None and not bool(self.step_finite):
            raise self.failure("non-finite derivative in an accepted step", PHASES[direction])
        self.accepted[direction] += 1
        if self.record[direction] and self.accepted[direction] == 1:
            # A one-step solve proposes nothing afterwards; its step (cut at the end) is the estimate.
            self.first_steps[direction].copy_(dt.detach())

    def failure(self, reason: str, phase: str) -> SolverError:
        t = self.last_t
        if self.last_dz is not None and not bool(torch.isfinite(self.last_dz).all()):
            reason, t = "non-finite derivative (the vector field returned NaN or Inf)", self.last_eval_t
        direction = PHASES.index(phase)
        nfe = self.stats.current((NFE_FORWARD, NFE_BACKWARD)[direction])
        warm_started = self.warm[direction]
        if warm_started:
            # The remembered size may not suit this input; the next solve starts from the guess.
            self.first_steps[direction].zero_()
        return SolverError(reason, t=_as_float(t), dt=_as_float(self.last_dt), nfe=nfe,
                           phase=phase, method=self.method, warm_started=warm_started)


class ODEBlock(nn.Module):
    """Integrate a vector field from ``t0`` to ``t1``: a drop-in layer ``z0 -> z(t1)``.

    Args:
        field: a ``VectorField`` (``AdamNODE(f)``, ``HBNODE(f)``, ...).
        t0, t1: integration interval (``t1 > t0``; fields singular at 0 need ``t0 > 0``).
        method: a torchdiffeq method; adaptive ones use ``rtol``/``atol``, fixed-step ones
            ``step_size``.
        adjoint: backpropagate with the adjoint method (memory O(1) in steps) instead of through
            the solver's operations (faster, memory O(steps)). Used only while grad is enabled.
        seminorm: measure the adjoint's error on the state and its adjoint only, not on the
            parameter gradients (Kidger et al., 2021): fewer backward steps, same gradients to
            tolerance. Adaptive methods with ``adjoint=True`` only.
        warm_start: in training mode, start each adaptive solve with the step size the error
            control chose near the start of the previous training solve (forward and adjoint
            separately) instead of torchdiffeq's deliberately cautious first-step guess. Same
            method, same tolerance, every step still error-controlled; it saves the guess's extra
            evaluation and usually a step each way. A step that proves too large is rejected and
            shrunk as usual; one that overflows fails the solve, which is then redone cold (forward)
            or raises a ``SolverError`` with ``warm_started=True`` after forgetting the size
            (adjoint; the trainer redoes the batch). In eval mode every solve starts from the
            guess, so outputs depend on the input alone. The remembered sizes are the buffer
            ``first_steps`` (saved with the weights, so a resumed run continues exactly; 0 = none
            yet; trajectories record no adjoint size).
        max_steps: steps allowed per solve (forward or backward) before ``SolverError``.
        check_finite: check ``z0`` and the result for NaN/Inf (one host sync per call each).
        adjoint_params: tensors ``f`` depends on that are not parameters of the field (needed when
            ``f`` is a plain callable closing over them; the field's own parameters are always used).

    ``forward(z0)`` returns ``z(t1)``; ``forward(z0, times)`` the trajectory ``[len(times), *z0.shape]``
    with ``times[0]`` as the start. ``stats`` holds NFE and step counts (see ``SolveStats``).
    """

    def __init__(
        self,
        field: VectorField,
        t0: float = 0.0,
        t1: float = 1.0,
        method: str = "dopri5",
        rtol: float = 1e-4,
        atol: float = 1e-4,
        adjoint: bool = True,
        seminorm: bool = True,
        warm_start: bool = True,
        step_size: float | None = None,
        max_steps: int = 10_000,
        check_finite: bool = True,
        adjoint_params: Iterable[torch.Tensor] | None = None,
    ):
        super().__init__()
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be an adamnode VectorField (e.g. AdamNODE(f)), got {type(field).__name__}")
        t0, t1 = finite_float(t0, "t0"), finite_float(t1, "t1")
        if not t1 > t0:
            raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
        if field.needs_positive_time and t0 <= 0:
            raise ValueError(f"{type(field).__name__} is singular at t <= 0; use t0 > 0 (e.g. t0=1.0, t1=2.0), got t0={t0}")
        if method not in ADAPTIVE_METHODS + FIXED_STEP_METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {list(ADAPTIVE_METHODS + FIXED_STEP_METHODS)}")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            if not finite_float(tol, name) > 0:
                raise ValueError(f"{name} must be positive, got {tol}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        adaptive = method in ADAPTIVE_METHODS
        if adaptive and step_size is not None:
            raise ValueError(f"step_size is for fixed-step methods; {method} chooses its own steps (set rtol/atol)")
        if not adaptive and (step_size is None or not finite_float(step_size, "step_size") > 0):
            raise ValueError(f"fixed-step method {method!r} needs a positive step_size, e.g. step_size={(t1 - t0) / 8:g}")
        if seminorm and adjoint and not adaptive:
            raise ValueError(f"seminorm applies to adaptive methods only; pass seminorm=False with {method!r}")
        if adjoint and adjoint_params is None and not isinstance(field.f, nn.Module):
            raise ValueError("f is a plain callable, so the adjoint cannot find the tensors it depends on: "
                             "make f an nn.Module, pass adjoint_params=[...] (() if it has none), or adjoint=False")
        if method in fixed.TABLEAUX and len(fixed.step_sizes(t0, t1, step_size)) > max_steps:
            raise ValueError(f"step_size={step_size} needs more than max_steps={max_steps} steps; raise either")

        self.field = field
        self.t0, self.t1, self.method = t0, t1, method
        self.rtol, self.atol, self.step_size = float(rtol), float(atol), step_size
        self.adjoint, self.seminorm, self.max_steps, self.check_finite = bool(adjoint), bool(seminorm), max_steps, check_finite
        self.warm_start = bool(warm_start) and adaptive
        self.register_buffer("first_steps", torch.zeros(2, dtype=torch.float64))
        self.stats = SolveStats()
        self.extra_adjoint_params = tuple(adjoint_params) if adjoint_params is not None else ()
        if method in fixed.TABLEAUX:
            self._fixed_steps = fixed.step_sizes(t0, t1, step_size)
        # Time tensors per (device, dtype), made once: no per-call host-to-device copies, which
        # cost a sync and would break CUDA-graph capture.
        self._time_cache: dict[tuple, torch.Tensor] = {}

    def _cached_times(self, kind: str, like: torch.Tensor) -> torch.Tensor:
        key = (kind, like.device, like.dtype)
        if key not in self._time_cache:
            values = (torch.tensor([self.t0, self.t1], dtype=torch.float64) if kind == "interval"
                      else fixed.stage_times(self.t0, self.t1, self.step_size, self.method))
            self._time_cache[key] = values.to(device=like.device, dtype=like.dtype)
        return self._time_cache[key]

    def _options(self, t: torch.Tensor, backward: bool, first_step: torch.Tensor | None = None) -> dict:
        if self.method not in ADAPTIVE_METHODS:
            return {"step_size": self.step_size}
        # One more than ours so that our own, clearer max_steps check fires first.
        options = {"max_num_steps": self.max_steps + 1}
        if first_step is not None:
            options["first_step"] = first_step
        # Land exactly on the end of the solve instead of stepping past it and interpolating back:
        # an overshooting trial step evaluates the field outside [t0, t1] (Nesterov's k(t) is
        # undefined below 0; AdamNODE's v can swing far negative) and wastes evaluations.
        options["step_t"] = t[:1] if backward else t[-1:]
        if backward and self.seminorm:
            options["norm"] = "seminorm"
        return options

    def _times(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None) -> torch.Tensor:
        if times is None:
            # Same dtype as the state: user networks that concatenate t must not see float64.
            return self._cached_times("interval", z0)
        times = torch.as_tensor(times, device=z0.device, dtype=z0.dtype)
        if times.dim() != 1 or times.numel() < 2 or not bool((times[1:] > times[:-1]).all()):
            raise ValueError("times must be a strictly increasing 1-D sequence of at least two times")
        if self.field.needs_positive_time and not bool(times[0] > 0):
            raise ValueError(f"{type(self.field).__name__} is singular at t <= 0; times must start above 0")
        return times

    def forward(self, z0: torch.Tensor, times: torch.Tensor | Sequence[float] | None = None) -> torch.Tensor:
        if self.check_finite:
            self.field.validate_state(z0)
        else:
            self.field.validate_layout(z0)
        t = self._times(z0, times)
        try:
            return self._solve(z0, t, times is None)
        except SolverError as error:
            # Running out of steps has nothing to do with how the solve started.
            if not (error.warm_started and error.phase == "forward") or error.reason.startswith(MAX_STEPS_REASON):
                raise
        # A remembered first step can be too large for this input (a trial step overflows where the
        # cautious guess would not); _Dynamics.failure has forgotten it, so this solve starts cold.
        return self._solve(z0, t, times is None)

    def _solve(self, z0: torch.Tensor, t: torch.Tensor, endpoint_only: bool) -> torch.Tensor:
        self.stats.start_solve()
        adjoint = self.adjoint and torch.is_grad_enabled()
        warm = self.warm_start and self.training
        # The adjoint of a trajectory runs one backward solve per output interval; the step after
        # the first accepted one of such a pass would be the next interval's start, not a proposal.
        record = (warm, warm and adjoint and len(t) == 2)
        starts = [self._remembered(direction, record[direction]) for direction in (FORWARD, BACKWARD)]
        dynamics = _Dynamics(self.field, self.stats, self.method, self.max_steps, self.first_steps, record,
                             warm=(starts[FORWARD] is not None, starts[BACKWARD] is not None))
        try:
            if endpoint_only and self.method in fixed.TABLEAUX and not adjoint:
                path = (self._solve_fixed_step(dynamics, z0),)
            elif adjoint:
                path = odeint_adjoint(
                    dynamics, z0, t, rtol=self.rtol, atol=self.atol, method=self.method,
                    options=self._options(t, False, starts[FORWARD]),
                    adjoint_options=self._options(t, True, starts[BACKWARD]),
                    adjoint_params=(*self.field.parameters(), *self.extra_adjoint_params),
                )
            else:
                path = odeint(dynamics, z0, t, rtol=self.rtol, atol=self.atol, method=self.method,
                              options=self._options(t, False, starts[FORWARD]))
        except AssertionError as error:
            raise dynamics.failure(f"torchdiffeq stopped ({error})", "forward") from None
        finally:
            # Evaluations after this point come from the adjoint's backward pass.
            dynamics.in_forward = False
        if self.check_finite and not bool(torch.isfinite(path[-1]).all()):
            raise dynamics.failure("the solution became NaN or Inf", "forward")
        return path[-1] if endpoint_only else path

    def _remembered(self, direction: int, active: bool) -> torch.Tensor | None:
        """The step size to start ``direction``'s solve with, or None for torchdiffeq's guess."""
        if not active:
            return None
        size = self.first_steps[direction]
        # A copy: the buffer is overwritten during the solve that starts from it.
        return size.clone() if bool(size > 0) else None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before warm starts existed load as "nothing remembered yet".
        state_dict.setdefault(prefix + "first_steps", torch.zeros_like(self.first_steps))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _solve_fixed_step(self, dynamics: _Dynamics, z0: torch.Tensor) -> torch.Tensor:
        return fixed.integrate(dynamics, z0, self._cached_times("stages", z0), self._fixed_steps, self.method,
                               on_step=lambda: self.stats.add(STEPS_FORWARD))

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden state ``h`` of ``z = z(t1)`` for a readout."""
        return self.field.hidden(z, self.t1)

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        return self.field.initial_state(h0, m0)

    def extra_repr(self) -> str:
        tol = f"rtol={self.rtol:g}, atol={self.atol:g}" if self.step_size is None else f"step_size={self.step_size:g}"
        return (f"t0={self.t0:g}, t1={self.t1:g}, method={self.method!r}, {tol}, adjoint={self.adjoint}, "
                f"seminorm={self.seminorm}, warm_start={self.warm_start}")


def _parts(y) -> tuple[torch.Tensor, ...]:
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _as_float(value) -> float:
    return float(value) if isinstance(value, (torch.Tensor, float, int)) else math.nan
