"""Re-render everything derived from a run or comparison folder: table files and plots."""

from __future__ import annotations

from pathlib import Path

from ..files import write_text
from ..training.folders import claim
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
    stepped = any(record.steps for record in records)
    # Recorded before they are written: --overwrite may remove them, and only them.
    claim(path, [RESULTS_CSV, RESULTS_MD, *plot_names(metric, extra, stepped)])
    rows = summarize(records)
    table = to_markdown(rows, metric, extra)
    write_text(path / RESULTS_CSV, to_csv(rows, metric, extra))
    plots = draw_plots(records, path, metric, extra)
    write_text(path / RESULTS_MD, _markdown_page(records, table, plots))
    return table


#: The per-step curve, drawn where the runs logged steps (``--log-every``).
STEP_FIGURE = ("loss", "training loss (mean over each logged window)", True, "train_loss_steps.png")


def _figures(metric: str, extra: tuple[str, ...] = (), stepped: bool = False) -> list[tuple[str, str, bool, str]]:
    """(column, axis label, log scale, file name) of each plot."""
    per_epoch = [("train_loss", "training loss", True), ("nfe_forward", "NFE-F per batch", False),
                 ("nfe_backward", "NFE-B per batch", False), (f"test_{metric}", f"test {metric}", False),
                 *((f"test_{name}", f"test {name}", False) for name in extra)]
    return [(key, label, log, f"{key}.png") for key, label, log in per_epoch] + ([STEP_FIGURE] if stepped else [])


def plot_names(metric: str, extra: tuple[str, ...] = (), stepped: bool = False) -> list[str]:
    return [name for _, _, _, name in _figures(metric, extra, stepped)]


def draw_plots(records: list[RunRecord], folder: Path, metric: str, extra: tuple[str, ...] = ()) -> list[str]:
    names = []
    for key, label, log, name in _figures(metric, extra, any(record.steps for record in records)):
        plot_curves(records, key, label, folder / name, log=log, along="step" if name == STEP_FIGURE[3] else "epoch")
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
