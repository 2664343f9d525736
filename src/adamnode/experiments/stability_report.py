"""The stability test's outputs: a CSV of the curves, a Markdown table and a figure."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..store import STABILITY_FILES as OUTPUT_FILES, atomic_write, write_text
from .stability import ModelCurves, StabilityResult


CSV_NAME, TABLE_NAME, FIGURE_NAME = OUTPUT_FILES
RECORDED = "recorded_output"
#: Upper end of the figure's log10 axis, so that a curve running to 10^150 does not flatten the rest.
PLOT_CEILING = 30.0


def write_outputs(result: StabilityResult, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUT_FILES]
    write_csv(result, paths[0])
    write_text(paths[1], table(result))
    write_figure(result, paths[2])
    return paths


def write_csv(result: StabilityResult, path: Path) -> None:
    """One row per model and time; the recorded output's log10 |y(t)| under the name ``recorded_output``."""
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(["model", "t", "log10_mean_norm_h", "log10_mean_norm_state", "solved_inits"])
    for curves in result.curves:
        for k, t in enumerate(result.times):
            writer.writerow([curves.model, f"{t:g}", _number(curves.log10_mean_h[k]),
                             _number(curves.log10_mean_state[k]), int(curves.solved[k])])
    inits = result.settings["inits"]
    for t, value in zip(result.times, _log10_abs(result.output)):
        writer.writerow([RECORDED, f"{t:g}", _number(value), _number(value), inits])
    write_text(path, stream.getvalue())


def table(result: StabilityResult) -> str:
    """Markdown: final value and peak of each curve, failures, and the settings that produced them."""
    settings = result.settings
    horizon = settings["horizon"]
    lines = [
        f"Silverbox initialisation test: log10 of the mean norm over {settings['inits']} untrained "
        f"initialisations (state in units of 10 mV), t = 0..{horizon} samples, dopri5 rtol = atol = "
        f"{settings['tol']:g}, seed {settings['seed']}, hidden {settings['hidden']}, "
        f"step budget {settings['step_budget']} per solve.",
        "",
        f"| model | \\|h\\| at t={horizon} | peak \\|h\\| (t) | \\|state\\| at t={horizon} | peak \\|state\\| (t) | failed solves |",
        "|---|---|---|---|---|---|",
    ]
    for curves in result.curves:
        lines.append(f"| {curves.model} | {_final(curves.log10_mean_h)} | {_peak(curves.log10_mean_h)} | "
                     f"{_final(curves.log10_mean_state)} | {_peak(curves.log10_mean_state)} | {_failures(curves)} |")
    recorded = _log10_abs(result.output)
    lines.append(f"| recorded output \\|y\\| | {_final(recorded)} | {_peak(recorded)} | | | |")
    comparison = _adam_versus_heavy_ball(result)
    if comparison:
        lines += ["", comparison]
    return "\n".join(lines) + "\n"


def write_figure(result: StabilityResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True, sharey=True)
    recorded = _log10_abs(result.output)
    values = np.concatenate([recorded] + [getattr(curves, name) for curves in result.curves
                                          for name in ("log10_mean_h", "log10_mean_state")])
    values = values[np.isfinite(values)]
    clipped = values.max() > PLOT_CEILING
    for axis, attribute, title in ((axes[0], "log10_mean_h", "hidden state h (what a readout sees)"),
                                   (axes[1], "log10_mean_state", "whole state (h, m, v, ...)")):
        for curves in result.curves:
            axis.plot(result.times, getattr(curves, attribute), label=curves.model, linewidth=1.6)
        axis.plot(result.times, recorded, color="black", linestyle="--", linewidth=1.2, label="recorded output |y|")
        axis.set_title(title)
        axis.set_xlabel("t (samples)")
        axis.grid(True, alpha=0.3)
    axes[0].set_ylim(values.min() - 1, min(values.max(), PLOT_CEILING) + 1)
    axes[0].set_ylabel("log10 mean norm (units of 10 mV)")
    axes[1].legend(loc="upper left", fontsize=8)
    note = f"; curves above 10^{PLOT_CEILING:g} leave the plot, see the table" if clipped else ""
    figure.suptitle(f"Silverbox initialisation test, {result.settings['inits']} initialisations per model "
                    f"(a line ends where a solve failed{note})", fontsize=10)
    figure.tight_layout()
    atomic_write(path, lambda out: figure.savefig(out, format="png", dpi=120))
    plt.close(figure)


def _adam_versus_heavy_ball(result: StabilityResult) -> str:
    by_name = {curves.model: curves for curves in result.curves}
    if "adamnode" not in by_name or "hbnode" not in by_name:
        return ""
    adam, heavy_ball = by_name["adamnode"], by_name["hbnode"]
    horizon = result.settings["horizon"]
    gap_h = heavy_ball.log10_mean_h[-1] - adam.log10_mean_h[-1]
    gap_state = heavy_ball.log10_mean_state[-1] - adam.log10_mean_state[-1]
    return (f"At t = {horizon}, HBNODE's mean |h| is 10^{_number(gap_h, 2)} times AdamNODE's "
            f"(whole state: 10^{_number(gap_state, 2)}).")


def _final(values: np.ndarray) -> str:
    return _number(values[-1], 2) if math.isfinite(values[-1]) else "failed"


def _peak(values: np.ndarray) -> str:
    finite = np.where(np.isfinite(values), values, -np.inf)
    if not np.isfinite(finite).any():
        return "n/a"
    k = int(np.argmax(finite))
    return f"{finite[k]:.2f} ({k})"


def _failures(curves: ModelCurves) -> str:
    if not curves.failures:
        return "0"
    first = min(curves.failures, key=lambda failure: failure.t)
    return f"{len(curves.failures)}/{len(curves.norm_h)}, first at t={first.t:.1f}: {first.reason}"


def _log10_abs(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(np.abs(values))


def _number(value: float, digits: int = 6) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "nan"
