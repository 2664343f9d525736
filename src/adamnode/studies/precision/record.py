"""The work-precision study's files: the record (JSON), its tables (CSV, Markdown) and diagrams (PNG).

``precision.json`` is what the study measured; everything else is drawn from it, so
``adamnode report DIR`` redraws the same tables and figures from it alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ...errors import ConfigError, DamagedFile
from ...store import PRECISION_CSV, PRECISION_FIGURES, PRECISION_MD, PRECISION_RECORD, write_text
from .plots import plot_work_precision, resolution

RECORD, TABLE_CSV, TABLE_MD = PRECISION_RECORD, PRECISION_CSV, PRECISION_MD
FIGURES = dict(zip(PRECISION_FIGURES, (("nfe", "NFE-F + NFE-B per training step"),
                                       ("ms_per_step", "ms per training step (median)"))))
#: What ``render_precision`` draws from the record.
DRAWN = (TABLE_CSV, TABLE_MD, *FIGURES)
#: Every file a precision folder gets (its manifest records them before they are written).
PRECISION_FILES = (RECORD, *DRAWN)
COLUMNS = ("model", "path", "tol", "steps", "nfe_forward", "nfe_backward", "ms_per_step", "peak_memory_mb",
           "output_error", "loss_error", "grad_error", "grad_cosine", "field_grad_error", "field_grad_cosine", "status")
#: Gradient errors at which the cost table asks what reaching them takes.
LEVELS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)


def is_precision_folder(folder: Path) -> bool:
    return (Path(folder) / RECORD).is_file()


def write_precision(record: dict, folder: Path) -> str:
    """Save ``record`` into ``folder`` and draw its tables and figures; return the Markdown page."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / RECORD, json.dumps(record, indent=1) + "\n")
    return render_precision(folder)


def read_precision(folder: Path) -> dict:
    """The record in ``folder``; ``ConfigError`` if there is none, ``DamagedFile`` naming the file if it
    cannot be read as one."""
    path = Path(folder) / RECORD
    if not path.is_file():
        raise ConfigError(f"{folder} holds no precision study ({RECORD}); give the --out folder of adamnode "
                          "precision")
    try:
        record = json.loads(path.read_text())
        if not (isinstance(record["rows"], list) and isinstance(record["references"], list)
                and isinstance(record["settings"], dict)):
            raise TypeError("rows, references or settings of the wrong type")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedFile(f"{path} is damaged ({' '.join(str(error).split())}); run the study again") from None
    return record


def render_precision(folder: Path) -> str:
    """(Re)draw ``precision.csv``, ``precision.md`` and the PNGs from ``precision.json``; return the page."""
    folder = Path(folder)
    record = read_precision(folder)
    rows = record["rows"]
    write_text(folder / TABLE_CSV, to_csv(rows))
    for name, (cost, label) in FIGURES.items():
        plot_work_precision(rows, record["references"], cost, label, folder / name)
    page = markdown(record)
    write_text(folder / TABLE_MD, page)
    return page


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["n/a" if key == "peak_memory_mb" and _missing(row[key]) else
                         "" if row[key] is None else repr(row[key]) if isinstance(row[key], float) else row[key]
                         for key in COLUMNS])
    return buffer.getvalue()


def markdown(record: dict) -> str:
    settings, rows = record["settings"], record["rows"]
    lines = [f"# Work-precision study: {settings.get('task', '?')}", ""]
    if settings.get("command"):
        lines += [f"Command: `{settings['command']}`", ""]
    if not settings["complete"]:
        measured = [reference["model"] for reference in record["references"]]
        lines += [f"**Stopped part-way**: {len(measured)} of {len(settings['models'])} models measured "
                  f"({', '.join(measured) or 'none'}); `adamnode precision --resume` on this folder measures the "
                  "rest.", ""]
    described = ", ".join(f"{key}={value}" for key, value in settings.items()
                          if key not in ("command", "arguments", "complete"))
    lines += [f"Settings: {described}.", "",
              "Every row: the same trained weights and the same batches; NFE are means over the batches, "
              "time is the median full training step (forward, loss, backward); errors are means over the "
              "batches against a float64 solve of the same weights and batch (dopri5; its backprop is in the "
              "references' table): relative "
              "error of the output, absolute error of the loss, relative error of the parameter gradient (whole "
              "model, and the vector field's own parameters), 1 - cosine of the angle to the true gradient.", "",
              "## The float64 references", "",
              "Own error estimate: largest difference over the batches from a second solve at the check tolerance.",
              "", _reference_table(record["references"]), "",
              "## Cost of reaching a gradient error", "",
              "Cheapest setting of each path whose whole-model gradient error is at most the column's level: "
              "NFE-F + NFE-B per step, ms per step, and the setting (— : no setting of the path reached it; "
              "n/r: not resolved, the level lies below the model's float64 reference's own gradient error, so no "
              "error measured against it can show the level reached).", "",
              _cost_table(rows, record["references"]), "", "## Every measurement", "", _full_table(rows), ""]
    lines += [f"![{name[:-4]}]({name})" for name in FIGURES]
    return "\n".join(lines) + "\n"


def setting(row: dict) -> str:
    return f"{row['steps']} steps" if row["steps"] is not None else f"tol {row['tol']:.0e}"


def _reference_table(references: list[dict]) -> str:
    header = ["model", "tol", "check tol", "backprop", "output", "loss", "gradient", "field gradient", "status"]
    body = [[r["model"], f"{r['tol']:.0e}", f"{r['check_tol']:.0e}", "adjoint" if r["adjoint"] else "direct"]
            + [_sci(r.get(key, math.nan)) for key in ("output_error", "loss_error", "grad_error", "field_grad_error")]
            + [f"FAILED: {r['failure']}" if r.get("failure") else "ok"] for r in references]
    return _table(header, body)


def _cost_table(rows: list[dict], references: list[dict]) -> str:
    header = ["model", "path"] + [f"grad error ≤ {level:.0e}" for level in LEVELS]
    own_error = resolution(references)
    body = []
    for model, path in dict.fromkeys((row["model"], row["path"]) for row in rows):
        mine = [row for row in rows if row["model"] == model and row["path"] == path and _ok(row)]
        body.append([model, path] + ["n/r" if own_error[model] > level else _cheapest(mine, level)
                                     for level in LEVELS])
    return _table(header, body)


def cheapest(rows: list[dict], level: float) -> dict | None:
    """The row with the fewest evaluations among those whose gradient error is at most ``level``."""
    reaching = [row for row in rows if _ok(row) and row["grad_error"] <= level]
    return min(reaching, key=lambda row: (total_nfe(row), row["ms_per_step"]), default=None)


def _cheapest(rows: list[dict], level: float) -> str:
    row = cheapest(rows, level)
    return "—" if row is None else f"{total_nfe(row):.0f} / {row['ms_per_step']:.0f} ms ({setting(row)})"


def total_nfe(row: dict) -> float:
    return row["nfe_forward"] + row["nfe_backward"]


def _full_table(rows: list[dict]) -> str:
    header = ["model", "path", "setting", "NFE-F", "NFE-B", "ms/step", "peak MB", "output", "loss", "gradient",
              "1 - cos", "field gradient", "field 1 - cos", "status"]
    body = [[row["model"], row["path"], setting(row), _fixed(row["nfe_forward"]), _fixed(row["nfe_backward"]),
             _fixed(row["ms_per_step"]), "n/a" if _missing(row["peak_memory_mb"]) else _fixed(row["peak_memory_mb"]),
             _sci(row["output_error"]), _sci(row["loss_error"]), _sci(row["grad_error"]), _sci(1 - row["grad_cosine"]),
             _sci(row["field_grad_error"]), _sci(1 - row["field_grad_cosine"]), row["status"]] for row in rows]
    return _table(header, body)


def _table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(line[k]) for line in [header] + body) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(c) for c in body])


def _ok(row: dict) -> bool:
    return row["status"] == "ok" and not _missing(row["grad_error"])


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _sci(value) -> str:
    return "—" if _missing(value) else f"{value:.1e}"


def _fixed(value) -> str:
    return "—" if _missing(value) else f"{value:.1f}"
