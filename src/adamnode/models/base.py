"""The contract every vector field of the family follows.

A state ``z`` is one tensor ``[batch, k, *features]``: the ``k`` components (h, m, v, ...) are
stacked on dim 1 so the solver sees a single tensor and the adjoint needs no tuple plumbing.
Each field names its components once (``components``); code reads them with
``field.component(z, "m")`` instead of ``z[:, 1]``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

#: ``f(t, h)``, or ``f(t, h, args)`` when the block is called with ``args`` (a driving input, say).
VectorFn = Callable[..., torch.Tensor]


class VectorField(nn.Module):
    """Base class: the right-hand side ``dz/dt = F(t, z)`` of one model of the family.

    Subclasses implement ``forward(t, z, args=None)`` and call ``f`` through ``call_f``. The class
    answers the questions about shapes that model builders ask (``takes_momentum``,
    ``state_features``, ``f_features``), so no caller decides them from a model's name.
    """

    components: ClassVar[tuple[str, ...]] = ("h",)
    #: Fields whose equations are singular at ``t <= 0`` (Nesterov's ``t^(-3/2)``) set this.
    needs_positive_time: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _keeping_options(cls.__init__)

    def __init__(self, f: VectorFn):
        super().__init__()
        if not callable(f):
            raise ValueError(f"f must be a module or callable f(t, h), got {type(f).__name__}")
        self.f = f
        # f(x) (an autonomous f, as torchdyn's and nn.Sequential's) or f(t, x[, args]).
        self._autonomous = _positional_arguments(f) == 1

    @property
    def options(self) -> dict[str, Any]:
        """The constructor options this field was built with, defaults filled in (``f`` aside): what a
        run records, so that reading it back never depends on today's defaults."""
        return dict(getattr(self, "_options", {}))

    @property
    def n_components(self) -> int:
        return len(self.components)

    @classmethod
    def takes_momentum(cls) -> bool:
        """Whether ``initial_state`` takes a second component ``m0`` (an encoder should provide it)."""
        return len(cls.components) > 1

    @classmethod
    def state_features(cls, features: int, **options: Any) -> int:
        """The width of ``h`` for an input of ``features`` on dim 1 (ANODE adds its zero channels)."""
        return features

    @classmethod
    def f_features(cls, state_features: int) -> tuple[int, int]:
        """(features ``f`` receives, features it must return) for ``h`` of ``state_features``."""
        return state_features, state_features

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """The constructor's options besides ``f``, with their defaults (``inspect.Parameter.empty``: required)."""
        parameters = list(inspect.signature(cls.__init__).parameters.values())[2:]
        return {p.name: p.default for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD}

    def call_f(self, t: torch.Tensor, x: torch.Tensor, like: torch.Tensor, args: Any = None) -> torch.Tensor:
        """``f(t, x)`` (``f(t, x, args)`` when ``args`` is given), which must have the shape of ``like``.

        The check matters because the equations add ``f``'s output to state components: a ``[1, d]``
        or scalar output would broadcast silently over the batch. It runs at every evaluation (an
        ``f`` may change its output's shape after its first call); comparing shapes reads metadata
        only, no device sync.
        """
        if self._autonomous:
            if args is not None:
                raise ValueError(f"f ({_describe(self.f)}) takes one argument, f(x), so it cannot take args; write "
                                 "it as f(t, x, args)")
            out = self.f(x)
        else:
            out = self.f(t, x) if args is None else self.f(t, x, args)
        if not isinstance(out, torch.Tensor) or out.shape != like.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"f ({_describe(self.f)}) must return the shape of h {tuple(like.shape)}, "
                             f"returned {shape}")
        return out

    def momentum_along_f(self, t: torch.Tensor, h0: torch.Tensor, args: Any = None) -> torch.Tensor:
        """An initial momentum that starts ``h`` moving along ``f(t, h0)``, as a NODE on ``f`` would.

        Here ``h' = m`` (or a bounded function of it), so ``m0 = f(t, h0)``; fields whose ``h``
        follows ``-m`` override it. Fields without momentum have none.
        """
        if not self.takes_momentum():
            raise ValueError(f"{type(self).__name__} has no momentum component")
        return self.call_f(t, h0, h0, args)

    def component(self, z: torch.Tensor, name: str, trajectory: bool = False) -> torch.Tensor:
        """The component ``name`` of state ``z`` (a view, no copy); of every state of a trajectory
        ``[times, batch, k, *features]`` with ``trajectory=True``."""
        try:
            index = self.components.index(name)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__} has components {list(self.components)}, not {name!r}"
            ) from None
        expected = 4 if trajectory else 3
        if z.dim() < expected or z.shape[expected - 2] != self.n_components:
            layout = "[times, batch, k, *features]" if trajectory else "[batch, k, *features]"
            raise ValueError(f"{type(self).__name__} reads a {'trajectory' if trajectory else 'state'} {layout} "
                             f"with k={self.n_components}, got shape {tuple(z.shape)}")
        return z[:, :, index] if trajectory else z[:, index]

    def hidden(self, z: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The hidden state ``h`` a readout should see at time ``t``."""
        return z[:, 0]

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        """Stack ``h0`` and the extra components into one state tensor.

        ``m0`` is the initial momentum (zeros when omitted); fields with a third component derive it.
        """
        check_floating("h0", h0)
        if self.n_components == 1:
            if m0 is not None:
                raise ValueError(f"{type(self).__name__} has no momentum component; pass m0=None")
            return h0.unsqueeze(1)
        m0 = _momentum_like(h0, m0)
        return torch.stack(self._extra_components(h0, m0), dim=1)

    def _extra_components(self, h0: torch.Tensor, m0: torch.Tensor) -> Sequence[torch.Tensor]:
        return (h0, m0)

    def validate_state(self, z: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``z`` is a finite floating state with this field's layout."""
        self.validate_layout(z)
        if not bool(torch.isfinite(z).all()):
            raise ValueError("z0 contains NaN or Inf; check the input data and the initial-state network")

    def validate_layout(self, z: torch.Tensor) -> None:
        """Like ``validate_state`` without the NaN/Inf check (which syncs a GPU)."""
        check_floating("z0", z)
        if z.dim() < 3 or z.shape[1] != self.n_components:
            raise ValueError(
                f"{type(self).__name__} expects a state of shape [batch, {self.n_components}, "
                f"*features] holding {list(self.components)} on dim 1, got shape {tuple(z.shape)}; "
                f"build it with field.initial_state(h0{', m0' if self.n_components > 1 else ''})"
            )

    def extra_repr(self) -> str:
        return f"components={list(self.components)}"


def _positional_arguments(f) -> int | None:
    """How many positional arguments ``f`` requires (``None`` where its signature cannot be read)."""
    try:
        signature = inspect.signature(f.forward if isinstance(f, nn.Module) else f)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()):
        return None
    return sum(1 for p in signature.parameters.values() if p.kind in kinds and p.default is p.empty)


def _describe(f) -> str:
    return type(f).__name__ if isinstance(f, nn.Module) else getattr(f, "__qualname__", type(f).__name__)


def check_floating(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor (float32 or float64), got {x.dtype}; cast it with .float()")


def _momentum_like(h0: torch.Tensor, m0: torch.Tensor | None) -> torch.Tensor:
    if m0 is None:
        return torch.zeros_like(h0)
    check_floating("m0", m0)
    if m0.shape != h0.shape:
        raise ValueError(f"m0 must have the shape of h0 {tuple(h0.shape)}, got {tuple(m0.shape)}")
    return m0


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "hardtanh": nn.functional.hardtanh,
    "identity": lambda x: x,
}


def resolve_activation(activation: str | Callable[[torch.Tensor], torch.Tensor]):
    """An activation given by name (``tanh``, ``hardtanh``, ``identity``) or as a callable."""
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} or pass a callable") from None


def _keeping_options(init: Callable) -> Callable:
    """``init`` that also keeps the options it was called with (``VectorField.options``)."""
    signature = inspect.signature(init)
    names = [p.name for p in list(signature.parameters.values())[2:] if p.kind is p.POSITIONAL_OR_KEYWORD]

    @functools.wraps(init)
    def init_keeping_options(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        # Constructors chained through super() all pass here; the class built runs last and wins.
        self._options = {name: bound.arguments[name] for name in names}

    return init_keeping_options
