"""What each field of a loaded checkpoint must be, checked before anything trains on it.

A checkpoint passes its digest check when it is intact, not when it is sensible: one written by a
buggy or foreign tool, or edited and resealed, can hold ``totals = {'samples': 'x'}``, which
would only fail steps later as an "unexpected TypeError" (or, in the random states, as a model
that "does not fit"). Every field is checked here for its type and range, and the first problem
is named; whether the weights fit the model is checked when they are loaded into it.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .metrics import Totals


def count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value) -> bool:
    return number(value) and math.isfinite(value)


def numbers(value) -> bool:
    return isinstance(value, list) and all(finite(item) for item in value)


#: The check of each ``Totals`` field by its declared type (a new field of another type fails here
#: at import, so it cannot go unchecked).
_BY_TYPE = {"int": count, "float": finite, "list[float]": numbers}
_TOTALS = {field.name: _BY_TYPE[field.type] for field in dataclasses.fields(Totals)}
_EXPECTED = {count: "a non-negative integer", finite: "a finite number", numbers: "a list of finite numbers"}


def field_problem(payload: dict) -> str | None:
    """What is wrong with a loaded checkpoint's fields, if anything (``None``: they may be used)."""
    for check in (_positions, _settings_and_history, _weights, _states, _sums):
        problem = check(payload)
        if problem:
            return problem
    return None


def _positions(payload: dict) -> str | None:
    for key in ("epoch", "step_in_epoch", "global_step"):
        value = payload[key]
        if not count(value):
            return f"{key} = {value!r}, expected a non-negative integer"
    return None


def _settings_and_history(payload: dict) -> str | None:
    if not isinstance(payload["settings"], dict):
        return "settings are not a dict"
    epochs = payload["settings"].get("epochs")
    if isinstance(epochs, int) and payload["epoch"] > epochs:
        return f"epoch {payload['epoch']} is past the run's {epochs} epochs"
    history = payload["history"]
    if not isinstance(history, list) or len(history) != payload["epoch"] or not all(
            isinstance(row, dict) and row.get("epoch") == position for position, row in enumerate(history, start=1)):
        return f"its history does not list epochs 1..{payload['epoch']}"
    for row in history:
        # Measured values may be NaN (a metric of no samples) but must be numbers: they go into metrics.csv.
        wrong = next((key for key, value in row.items() if not isinstance(key, str) or not number(value)), None)
        if wrong is not None:
            return f"history epoch {row['epoch']} {wrong} = {row[wrong]!r}, expected a number"
    return None


def _weights(payload: dict) -> str | None:
    if not isinstance(payload["model"], dict):
        return "model weights are not a dict"
    for name, tensor in payload["model"].items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            return f"model weight {name!r} is not a named tensor"
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return f"weight {name} is not finite"
    return None


def _states(payload: dict) -> str | None:
    optimizer = payload["optimizer"]
    if not (isinstance(optimizer, dict) and isinstance(optimizer.get("state"), dict)
            and isinstance(optimizer.get("param_groups"), list)):
        return "the optimizer state is not a dict of 'state' and 'param_groups'"
    if not isinstance(payload["scheduler"], dict):
        return "the scheduler state is not a dict"
    if not _byte_tensor(payload["batch_generator"]):
        return "the batch order's generator state is not a byte tensor"
    return _rng_problem(payload["rng"])


def _byte_tensor(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1


def _rng_problem(rng) -> str | None:
    """The random states as ``rng.capture_rng`` stores them."""
    if not (isinstance(rng, dict) and _byte_tensor(rng.get("torch"))
            and isinstance(rng.get("cuda"), list) and all(_byte_tensor(state) for state in rng["cuda"])):
        return "the random states are not those of torch (a byte tensor each)"
    numpy_state, python_state = rng.get("numpy"), rng.get("python")
    if not (isinstance(numpy_state, dict) and isinstance(numpy_state.get("kind"), str)
            and isinstance(numpy_state.get("keys"), torch.Tensor) and numpy_state["keys"].dtype == torch.int64
            and count(numpy_state.get("position")) and numpy_state.get("has_gauss") in (0, 1)
            and isinstance(numpy_state.get("cached_gaussian"), float)):
        return "numpy's random state is not what adamnode stores"
    if not (isinstance(python_state, dict) and count(python_state.get("version"))
            and isinstance(python_state.get("internal"), list)
            and all(count(item) for item in python_state["internal"])
            and (python_state.get("gauss_next") is None or isinstance(python_state["gauss_next"], float))):
        return "Python's random state is not what adamnode stores"
    return None


def _sums(payload: dict) -> str | None:
    for key in ("totals", "step_window"):
        sums = payload[key]
        if not isinstance(sums, dict):
            return f"{key} are not a dict"
        for name, value in sums.items():
            check = _TOTALS.get(name)
            if check is None:
                return f"{key} holds {name!r}, which is not one of {', '.join(_TOTALS)}"
            if not check(value):
                return f"{key} {name} = {value!r}, expected {_EXPECTED[check]}"
    wall = payload["wall_seconds"]
    if not (finite(wall) and wall >= 0):
        return f"wall_seconds = {wall!r}, expected a non-negative number"
    return None
