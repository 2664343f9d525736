"""PNG curves per epoch (and per logged step): one line per model (mean over seeds) with a band of one
standard deviation.

Drawn on ``matplotlib.figure.Figure`` directly, never through pyplot, so no GUI backend or global
figure state is involved.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .records import RunRecord
from ..store import atomic_write


def curves(records: list[RunRecord], key: str, along: str = "epoch"
           ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per model: epochs (or ``along="step"``: the logged steps of steps.csv), mean and sample standard
    deviation of ``key`` over the runs that reached each one."""
    by_model: dict[str, dict[int, list[float]]] = {}
    for record in records:
        points = by_model.setdefault(record.model, {})
        for row in _rows(record, along):
            points.setdefault(int(row[along]), []).append(float(row[key]))
    result = {}
    for model, epochs in by_model.items():
        order = sorted(epochs)
        values = [np.array(epochs[epoch]) for epoch in order]
        result[model] = (np.array(order), np.array([v.mean() for v in values]),
                         np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in values]))
    return result


def plot_curves(records: list[RunRecord], key: str, ylabel: str, path: Path, log: bool = False,
                along: str = "epoch") -> None:
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = figure.subplots()
    unfinished = {record.model for record in records if not record.complete}
    for index, (model, (epochs, mean, spread)) in enumerate(curves(records, key, along).items()):
        color = f"C{index % 10}"  # matplotlib's default cycle, fixed per model position across plots
        label = f"{model} (not all runs finished)" if model in unfinished else model
        axes.plot(epochs, mean, marker="o" if along == "epoch" else None, markersize=3, label=label, color=color)
        if np.any(spread > 0):
            low = np.maximum(mean - spread, mean * 1e-3) if log else mean - spread
            axes.fill_between(epochs, low, mean + spread, color=color, alpha=0.2, linewidth=0)
    if log and _positive(records, key, along):
        axes.set_yscale("log")
    axes.set_xlabel("epoch" if along == "epoch" else "training step")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", ncols=2)
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=120))


def _positive(records: list[RunRecord], key: str, along: str) -> bool:
    values = [float(row[key]) for record in records for row in _rows(record, along)]
    return bool(values) and all(value > 0 and math.isfinite(value) for value in values)


def _rows(record: RunRecord, along: str) -> list[dict]:
    return record.history if along == "epoch" else record.steps
