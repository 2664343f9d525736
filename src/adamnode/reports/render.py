"""Re-render everything derived from a run or comparison folder: table files and plots."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..store import RESULTS_CSV, RESULTS_MD, own_files, write_text
from .plots import plot_curves
from .records import RunRecord, find_runs
from .table import summarize, to_csv, to_markdown


def render(path: Path) -> str:
    """Write ``results.csv``, ``results.md`` and the PNG plots into ``path``; return the table."""
    path = Path(path)
    records = find_runs(path)
    metric, extra = records[0].metric, records[0].extra_metrics
    plots = _plots(metric, extra, stepped=any(record.steps for record in records))
    # Recorded before they are written: --overwrite may remove them, and only them.
    own_files(path, [RESULTS_CSV, RESULTS_MD, *(plot.name for plot in plots)])
    rows = summarize(records)
    table = to_markdown(rows, metric, extra)
    write_text(path / RESULTS_CSV, to_csv(rows, metric, extra))
    for plot in plots:
        plot_curves(records, plot.column, plot.label, path / plot.name, log=plot.log, along=plot.along)
    write_text(path / RESULTS_MD, _markdown_page(records, table, [plot.name for plot in plots]))
    return table


class Plot(NamedTuple):
    """One PNG of a folder: ``column`` of the runs' records against ``along``: ``epoch``
    (metrics.csv) or ``step`` (steps.csv)."""

    column: str
    label: str
    log: bool
    name: str
    along: str = "epoch"


def _plots(metric: str, extra: tuple[str, ...], stepped: bool) -> list[Plot]:
    """Every plot of a folder: one per epoch column, and the per-step loss where the runs logged steps
    (``--log-every``)."""
    per_epoch = [("train_loss", "training loss", True), ("nfe_forward", "NFE-F per batch", False),
                 ("nfe_backward", "NFE-B per batch", False), (f"test_{metric}", f"test {metric}", False),
                 *((f"test_{name}", f"test {name}", False) for name in extra)]
    plots = [Plot(key, label, log, f"{key}.png") for key, label, log in per_epoch]
    if stepped:
        plots.append(Plot("loss", "training loss (mean over each logged window)", True, "train_loss_steps.png",
                          along="step"))
    return plots


def _markdown_page(records: list[RunRecord], table: str, names: list[str]) -> str:
    settings = records[0].settings
    seeds = sorted({record.seed for record in records})
    shown = ("task", "preset", "epochs", "batch_size", "lr", "tol", "method", "step_size", "gradient", "seminorm",
             "warm_start", "max_steps", "step_budget", "train_subset", "test_subset", "grad_clip")
    # The regularisers only where they are on: a table of unregularised runs should not list three zeros.
    regularisers = ("kinetic", "jacobian", "steer")
    described = ", ".join([f"{key}={settings[key]}" for key in shown if settings.get(key) is not None]
                          + [f"{key}={settings[key]}" for key in regularisers if settings.get(key)])
    lines = [f"# {settings['task']}: {len(records)} run(s), seeds {', '.join(map(str, seeds))}", "",
             f"Settings: {described}.", "",
             "Final epoch of each run; mean ± sample standard deviation over seeds. NFE-F and NFE-B: vector-field "
             "evaluations per training batch in the forward solve and in the backward pass (the adjoint's solve, or checkpoint's replay).", "",
             table, ""]
    lines += [f"![{name[:-4]}]({name})" for name in names]
    return "\n".join(lines) + "\n"
