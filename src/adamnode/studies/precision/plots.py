"""Work-precision diagrams: gradient error against cost, log-log, one line per model and path.

The first panel overlays every model's default path (which model is cheapest at an accuracy); one
panel per model then shows all its paths (which path is). Axes are shared, so panels compare.
Each point is labelled with its setting (tolerance exponent, or rk4 step count with "s"). A
model's panel shades the errors below its float64 reference's own error: no point there is
resolved, however low it lies.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from ...store import atomic_write

MARKERS = {"default": "o", "warm": "s", "direct": "^", "fixed": "D", "reference": "v", "plain-direct": "<",
           "torchdyn": "P"}
#: Errors above this (a gradient 10x off) are drawn on the top edge: a solve that blew up at a
#: loose tolerance would otherwise squeeze every useful curve into a sliver of the plot.
CEILING = 10.0


def resolution(references: list[dict]) -> dict[str, float]:
    """Each model's float64 reference's own gradient error: no smaller error measured against it is resolved."""
    return {reference["model"]: reference.get("grad_error", math.nan) for reference in references}


def plot_work_precision(rows: list[dict], references: list[dict], cost: str, cost_label: str, path: Path) -> None:
    """``cost`` is a row key, or ``nfe`` for NFE-F + NFE-B."""
    floors = resolution(references)
    models = list(dict.fromkeys(row["model"] for row in rows))
    paths = list(dict.fromkeys(row["path"] for row in rows))
    panels = 1 + len(models)
    columns = min(3, panels)
    lines = (panels + columns - 1) // columns
    figure = Figure(figsize=(4.2 * columns, 3.4 * lines), layout="constrained")
    axes = figure.subplots(lines, columns, sharex=True, sharey=True, squeeze=False).ravel()
    overview = paths[0] if "default" not in paths else "default"
    for index, model in enumerate(models):
        _line(axes[0], _points(rows, model, overview, cost), f"C{index % 10}", MARKERS.get(overview, "o"), model)
    axes[0].set_title(f"{overview} path, every model", fontsize=9)
    for axis, model in zip(axes[1:], models):
        for index, name in enumerate(paths):
            _line(axis, _points(rows, model, name, cost), f"C{index % 10}", MARKERS.get(name, "o"), name)
        axis.set_title(model, fontsize=9)
        if _positive(floors.get(model)):
            axis.axhspan(0, floors[model], color="0.85", zorder=0, label="below the reference's error")
    for axis in axes[panels:]:
        axis.set_visible(False)
    for axis in axes[:panels]:
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=6)
        if axis.has_data():
            axis.set_xscale("log")
            axis.set_yscale("log")
            # Plain numbers on the cost axis: "30" reads faster than "3 x 10^1".
            axis.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
            axis.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    for axis in axes[::columns]:
        axis.set_ylabel("gradient rel. error")
    for axis in axes[-columns:]:
        axis.set_xlabel(cost_label)
    clipped = any(row["grad_error"] > CEILING for row in rows if row["status"] == "ok")
    figure.suptitle("Work-precision: relative error of the whole model's parameter gradient vs float64 "
                    "reference (labels: tol exponent, or rk4 steps)"
                    + (f"; errors above {CEILING:g} drawn at {CEILING:g}, see the table" if clipped else ""), fontsize=9)
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=110))


def _points(rows: list[dict], model: str, name: str, cost: str) -> list[tuple[float, float, str]]:
    found = []
    for row in rows:
        if row["model"] != model or row["path"] != name or row["status"] != "ok":
            continue
        x = row["nfe_forward"] + row["nfe_backward"] if cost == "nfe" else row[cost]
        y = min(row["grad_error"], CEILING)
        if _positive(x) and _positive(y):
            label = f"{row['steps']}s" if row["steps"] is not None else f"{math.log10(row['tol']):.0f}"
            found.append((x, y, label))
    return found


def _line(axis, points: list[tuple[float, float, str]], color: str, marker: str, label: str) -> None:
    if not points:
        return
    xs, ys, labels = zip(*points)
    axis.plot(xs, ys, marker=marker, markersize=3.5, linewidth=1.1, color=color, label=label)
    for x, y, text in points:
        axis.annotate(text, (x, y), textcoords="offset points", xytext=(3, 2), fontsize=5.5, color=color)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
