"""The comparison table: per model, mean and spread over seeds of each run's final figures."""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field

from ..config.model_options import describe
from .records import RunRecord


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    digits: int


def columns(metric: str, extra: tuple[str, ...] = ()) -> list[Column]:
    """What the table reports; NFE are per batch in the final epoch, seconds are per epoch."""
    return [Column("train_loss", "train loss", 4), Column(f"train_{metric}", f"train {metric}", 3),
            Column(f"test_{metric}", f"test {metric}", 3),
            *(Column(f"test_{name}", f"test {name}", 3) for name in extra),
            Column("nfe_forward", "NFE-F", 1),
            Column("nfe_backward", "NFE-B", 1), Column("seconds_per_epoch", "s/epoch", 2)]


@dataclass
class ModelRow:
    model: str
    parameters: int
    runs: int
    complete: int
    values: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: The model options its runs used (``describe``'s form; empty: the model as built by default).
    options: str = ""

    def mean(self, key: str) -> float:
        values = self.values.get(key, [])
        return statistics.fmean(values) if values else math.nan

    def spread(self, key: str) -> float:
        """Sample standard deviation over seeds (0 with a single seed)."""
        values = self.values.get(key, [])
        return statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def status(self) -> str:
        if self.complete == self.runs:
            return "ok"
        return f"{self.complete}/{self.runs} ok; " + "; ".join(self.problems)


def final_values(record: RunRecord) -> dict[str, float]:
    last = record.history[-1]
    values = {key: float(value) for key, value in last.items()}
    values["seconds_per_epoch"] = statistics.fmean(row["seconds"] for row in record.history)
    return values


def summarize(records: list[RunRecord]) -> list[ModelRow]:
    """One row per model, in the order the models first appear; only complete runs are averaged."""
    rows: dict[str, ModelRow] = {}
    for record in records:
        options = describe(record.settings.get("model_options", {}))
        row = rows.setdefault(record.model, ModelRow(record.model, record.parameters, 0, 0, options=options))
        row.runs += 1
        if record.complete and record.history:
            row.complete += 1
            for key, value in final_values(record).items():
                row.values.setdefault(key, []).append(value)
        else:
            error = (record.summary or {}).get("error") or "did not finish"
            row.problems.append(f"seed {record.seed} {record.status}: {error}")
    return list(rows.values())


def _cell(row: ModelRow, column: Column) -> str:
    mean = row.mean(column.key)
    if math.isnan(mean):
        return "—"
    text = f"{mean:.{column.digits}f}"
    return text + (f" ± {row.spread(column.key):.{column.digits}f}" if len(row.values[column.key]) > 1 else "")


def _with_options(rows: list[ModelRow]) -> bool:
    """Whether the tables get a column of model options: only when some run was given any."""
    return any(row.options for row in rows)


def to_markdown(rows: list[ModelRow], metric: str, extra: tuple[str, ...] = ()) -> str:
    """A Markdown table, its columns padded so it also reads well in a terminal."""
    optional = _with_options(rows)
    header = (["model"] + (["model options"] if optional else []) + ["params", "seeds"]
              + [column.header for column in columns(metric, extra)] + ["status"])
    body = [[row.model] + ([row.options or "—"] if optional else []) + [f"{row.parameters:,}", str(row.runs)]
            + [_cell(row, column) for column in columns(metric, extra)] + [row.status] for row in rows]
    widths = [max(len(line[index]) for line in [header] + body) for index in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator] + [line(cells) for cells in body])


def to_csv(rows: list[ModelRow], metric: str, extra: tuple[str, ...] = ()) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = [column.key for column in columns(metric, extra)]
    optional = _with_options(rows)
    writer.writerow(["model", "parameters", "runs", "complete"]
                    + [f"{key}_{part}" for key in keys for part in ("mean", "std")] + ["status"]
                    + (["model_options"] if optional else []))
    for row in rows:
        writer.writerow([row.model, row.parameters, row.runs, row.complete]
                        + [repr(value) for key in keys for value in (row.mean(key), row.spread(key))] + [row.status]
                        + ([row.options] if optional else []))
    return buffer.getvalue()
