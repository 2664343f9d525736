"""Constructor options of the vector fields, given as settings (``--model-option KEY=VALUE``).

The fields' own constructors are the source of truth: the keys a model accepts are its
``option_defaults()``, a value's type is its default's (or the annotation's where there is no
default), and a value is valid when the constructor accepts it, so no range is restated here.
"""

from __future__ import annotations

import inspect
import math
import typing
from typing import Any, Iterable

from ..models.family import field_class
from ..errors import ConfigError

FLAG = "--model-option"
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
_BOOL_WORDS = {"true": True, "false": False}


def accepted(model: str) -> dict[str, type]:
    """The options ``model``'s field takes from settings, with the type each value must have."""
    kind = field_class(model)
    hints = typing.get_type_hints(kind.__init__)
    return {name: _settable_type(default, hints.get(name)) for name, default in kind.option_defaults().items()}


def _settable_type(default: Any, hint: Any) -> type:
    if default is not inspect.Parameter.empty:
        return type(default)
    # A required option (ANODE's augment_dim) has no default to read the type from.
    options = typing.get_args(hint) or (hint,)
    return next(option for option in options if option in _TYPE_WORDS)


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["beta1=0.5", ...]`` as ``{"beta1": "0.5"}``; the values are parsed once the models are known."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = str(pair).partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not key:
            raise ConfigError(f"{FLAG} takes KEY=VALUE (e.g. {FLAG} beta1=0.5), got {pair!r}")
        if key in options:
            raise ConfigError(f"{FLAG} {key} is given twice; give each key once")
        options[key] = value.strip()
    return options


def resolve(options: dict[str, Any], models: Iterable[str]) -> dict[str, Any]:
    """``options`` with values of the constructors' types, checked by building each model's field.

    Every key must be accepted by at least one of ``models``; raises a one-line ``ConfigError``.
    """
    models = list(models)
    valid = {model: accepted(model) for model in models}
    kinds = {key: kind for model in models for key, kind in valid[model].items()}
    listing = _listing(models, kinds)
    unknown = sorted(set(options) - set(kinds))
    if unknown:
        raise ConfigError(f"unknown model option(s) {', '.join(unknown)}; {listing}")
    parsed = {key: _parse(key, value, kinds[key], listing) for key, value in sorted(options.items())}
    for model in models:
        chosen = {key: value for key, value in parsed.items() if key in valid[model]}
        if not chosen:
            continue
        try:
            field_class(model)(_probe, **chosen)
        except (TypeError, ValueError) as error:
            given = ", ".join(f"{key}={describe_value(value)}" for key, value in chosen.items())
            raise ConfigError(f"{FLAG} {given} does not fit {model}: {' '.join(str(error).split())}; "
                              f"{listing}") from None
    return parsed


def _parse(key: str, value: Any, kind: type, listing: str) -> Any:
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        try:
            value = _BOOL_WORDS[text] if kind is bool else kind(text)
        except (KeyError, ValueError):
            pass
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    raise ConfigError(f"{FLAG} {key} must be {_TYPE_WORDS[kind]}, got {value!r}; {listing}")


def _listing(models: list[str], kinds: dict[str, type]) -> str:
    keys = ", ".join(sorted(kinds)) or "none"
    return f"valid keys for {', '.join(models)}: {keys}"


def _probe(t, h):
    """A stand-in ``f``: building a field checks its options without a network."""
    return h


def describe_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe(options: dict[str, Any]) -> str:
    """``beta1=0.5, learn_betas=false``, as tables and ``adamnode info`` show a run's options."""
    return ", ".join(f"{key}={describe_value(value)}" for key, value in sorted(options.items()))
