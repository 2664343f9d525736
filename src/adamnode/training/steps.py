"""Per-step learning curves: ``steps.csv``, one row every ``log_every`` training steps.

Rows are appended as training goes, so a long run can be watched; a checkpoint is the commit
point. ``commit`` rewrites the file to exactly the rows up to the checkpoint's step, so a run
killed after appending rows and resumed from an older checkpoint never holds a step twice.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..store import STEP_COLUMNS, cell, write_text
from .metrics import Totals


class StepLog:
    """Accumulates every training step and appends a row each ``every`` steps (``None``: no file)."""

    def __init__(self, path: Path, every: int | None):
        self.path, self.every = Path(path), every
        # The sums since the last row; checkpointed, as a stop can fall inside a window.
        self.window = Totals()

    def add(self, epoch: int, step: int, batch_size: int, loss: float, nfe_forward: float, nfe_backward: float,
            seconds: float, write: bool) -> None:
        """Record global step ``step`` (1-based) of epoch ``epoch``; ``write`` is false on all but one process."""
        if self.every is None:
            return
        window = self.window
        window.add(batch_size, loss, 0.0, 0.0, nfe_forward, nfe_backward)
        if window.steps < self.every:
            return
        # Weighted by samples like metrics.csv's train_loss, so the rows of an epoch average to it
        # (the plain mean of the step losses whenever the batches are full).
        row = [epoch, step, window.mean_loss, window.per_step(window.nfe_forward),
               window.per_step(window.nfe_backward), seconds]
        self.window = Totals()
        if write:
            with open(self.path, "a", newline="", encoding="utf-8") as stream:
                csv.writer(stream, lineterminator="\n").writerow([cell(value) for value in row])

    def commit(self, step: int) -> None:
        """Make the file hold the header and exactly the rows of steps up to ``step``, durably."""
        if self.every is None:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(STEP_COLUMNS)
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as stream:
                writer.writerows(row for row in list(csv.reader(stream))[1:] if _step_of(row) <= step)
        write_text(self.path, buffer.getvalue())

    def state_dict(self) -> dict:
        return self.window.as_dict()

    def load_state_dict(self, state: dict) -> None:
        self.window = Totals(**state)


def _step_of(row: list[str]) -> float:
    """The step of a raw row; a row torn by a kill mid-write counts as past every checkpoint."""
    try:
        return int(row[STEP_COLUMNS.index("step")]) if len(row) == len(STEP_COLUMNS) else math.inf
    except ValueError:
        return math.inf
