"""``NeuralODE``: the drop-in layer, features in and features out.

    layer = NeuralODE(HBNODE(f))                 # f(x), f(t, x) or f(t, x, args); any feature shape
    model = nn.Sequential(nn.Linear(2, 16), layer, nn.Linear(16, 2))

It builds the field's initial state from ``x`` (the momentum ``m0``, AdamNODE's ``v0``), solves
with an ``ODEBlock`` and returns ``h(t1)`` with ``x``'s shape, or ``h`` on a time grid.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

from .models.base import VectorField
from .models.first_order import NODE
from .solve.block import ODEBlock
from .solve.options import SolverOptions

#: How ``m0`` is made from the input: ``"flow"`` asks the field for the momentum that starts ``h``
#: along ``f(t0, h0)`` (``VectorField.momentum_along_f``: one evaluation of ``f``), ``"zeros"`` at rest.
M0_CHOICES = ("flow", "zeros")


class NeuralODE(nn.Module):
    """``x -> h(t1)``: a momentum (or plain) neural ODE as a layer.

    Args:
        field: a ``VectorField`` (``AdamNODE(f)``, ``HBNODE(f)``, ...) or a bare ``f``, which makes a
            plain ``NODE(f)``. ``f`` may be written ``f(x)``, ``f(t, x)`` or ``f(t, x, args)``.
        t0, t1: the interval (default ``[0, 1]``; Nesterov fields, singular at 0, ``[1, 2]``).
        m0: the initial momentum of fields that have one: ``"flow"`` (default:
            ``field.momentum_along_f``, so ``h`` starts moving along ``f`` as a NODE's would, see
            below), ``"zeros"``, or a module / callable ``x -> m0`` of ``x``'s shape (learned from
            the input).
        times: where to return ``h``: ``None`` for ``h(t1)`` with ``x``'s shape, or a grid
            (``times[0]`` the start) for ``[len(times), *x.shape]``.
        options, params, **changes: the solver settings, as ``ODEBlock`` takes them.

    Why ``"flow"`` and not zeros: with ``m0 = 0`` AdamNODE's ``h' = -m / sqrt(v)`` starts at 0 and
    ``m`` grows only at the rate ``beta1`` (0.0067 with the paper's MNIST rates), so an untrained
    AdamNODE barely moves its state (docs/results/layer); with ``m0 = -f`` (``v0 = f**2``) it moves
    at once, as the paper's networks do by learning ``m0`` from the input.

    ``forward(x, args=None, options=None)``; ``block`` is the ``ODEBlock`` underneath (statistics,
    ``penalty``, per-call options), ``field`` its vector field.
    """

    def __init__(self, field: VectorField | Callable, t0: float | None = None, t1: float | None = None, *,
                 m0: str | Callable[[torch.Tensor], torch.Tensor] = "flow",
                 times: torch.Tensor | Sequence[float] | None = None, options: SolverOptions | None = None,
                 params=None, **changes):
        super().__init__()
        if not isinstance(field, VectorField):
            field = NODE(field)
        if t0 is None:
            t0 = 1.0 if field.needs_positive_time else 0.0
        if t1 is None:
            t1 = t0 + 1.0
        if not (callable(m0) or m0 in M0_CHOICES):
            raise ValueError(f"m0 must be one of {list(M0_CHOICES)} or a module/callable x -> m0, got {m0!r}")
        self.block = ODEBlock(field, t0, t1, options=options, params=params, **changes)
        self.m0 = m0
        self.times = None if times is None else torch.as_tensor(times, dtype=torch.float64)

    @property
    def field(self) -> VectorField:
        return self.block.field

    def initial_state(self, x: torch.Tensor, args: Any = None) -> torch.Tensor:
        """The field's state at ``t0`` for input ``x``."""
        field = self.field
        if not field.takes_momentum():
            return field.initial_state(x)
        if callable(self.m0):
            m0 = self.m0(x)
        elif self.m0 == "zeros":
            m0 = None
        else:
            m0 = field.momentum_along_f(self.block.start_time(x), x, args)
        return field.initial_state(x, m0)

    def forward(self, x: torch.Tensor, args: Any = None, options: SolverOptions | dict | None = None) -> torch.Tensor:
        z0 = self.initial_state(x, args)
        if self.times is None:
            return self.block.hidden(self.block(z0, args=args, options=options))
        path = self.block(z0, self.times.to(x.dtype), args=args, options=options)
        return self.block.hidden(path)

    def extra_repr(self) -> str:
        m0 = self.m0 if isinstance(self.m0, str) else type(self.m0).__name__
        return f"m0={m0!r}" + ("" if self.times is None else f", times={len(self.times)} points")
