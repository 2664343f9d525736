"""Re-render everything derived from a run or comparison folder: table files and plots."""

from __future__ import annotations

from pathlib import Path

from ..files import write_text
from ..training.folders import record
from .plots import plot_curves
from .records import RunRecord, find_runs
from .table import summarize, to_csv, to_markdown

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"


def render(path: Path) -> str:
    """Write ``results.csv``, ``results.md`` and the PNG plots into ``path``; return the table."""
    path = Path(path)
    records = find_runs(path)
    metric, extra = records[0].metric, records[0].extra_metrics
    # Recorded before they are written: --overwrite may remove them, and only them.
    record(path, [RESULTS_CSV, RESULTS_MD, *plot_names(metric, extra)])
    rows = summarize(records)
    table = to_markdown(rows, metric, extra)
    write_text(path / RESULTS_CSV, to_csv(rows, metric, extra))
    plots = draw_plots(records, path, metric, extra)
    write_text(path / RESULTS_MD, _markdown_page(records, table, plots))
    return table


def _figures(metric: str, extra: tuple[str, ...] = ()) -> list[tuple[str, str, bool]]:
    return [("train_loss", "training loss", True), ("nfe_forward", "NFE-F per batch", False),
            ("nfe_backward", "NFE-B per batch", False), (f"test_{metric}", f"test {metric}", False),
            *((f"test_{name}", f"test {name}", False) for name in extra)]


def plot_names(metric: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [f"{key}.png" for key, _, _ in _figures(metric, extra)]


def draw_plots(records: list[RunRecord], folder: Path, metric: str, extra: tuple[str, ...] = ()) -> list[str]:
    names = []
    for key, label, log in _figures(metric, extra):
        name = f"{key}.png"
        plot_curves(records, key, label, folder / name, log=log)
        names.append(name)
    if any(record.steps for record in records):
        name = "train_loss_steps.png"
        plot_curves(records, "loss", "training loss (mean over each logged window)", folder / name, log=True,
                    along="step")
        names.append(name)
    return names


def _markdown_page(records: list[RunRecord], table: str, plots: list[str]) -> str:
    settings = records[0].settings
    seeds = sorted({record.seed for record in records})
    shown = ("task", "preset", "epochs", "batch_size", "lr", "tol", "method", "step_size", "adjoint", "seminorm",
             "warm_start", "max_steps", "solver_max_steps", "train_subset", "test_subset", "grad_clip")
    # The regularisers only where they are on: a table of unregularised runs should not list three zeros.
    regularisers = ("kinetic", "jacobian", "steer")
    described = ", ".join([f"{key}={settings[key]}" for key in shown if settings.get(key) is not None]
                          + [f"{key}={settings[key]}" for key in regularisers if settings.get(key)])
    lines = [f"# {settings['task']}: {len(records)} run(s), seeds {', '.join(map(str, seeds))}", "",
             f"Settings: {described}.", "",
             "Final epoch of each run; mean ± sample standard deviation over seeds. NFE-F and NFE-B: vector-field "
             "evaluations per training batch in the forward solve and in the backward (adjoint) pass.", "",
             table, ""]
    lines += [f"![{name[:-4]}]({name})" for name in plots]
    return "\n".join(lines) + "\n"
