"""Tables (CSV and Markdown) and PNG plots of run and comparison folders."""

from .records import RunRecord, find_runs, load_run
from .render import render
from .table import summarize

__all__ = ["RunRecord", "find_runs", "load_run", "render", "summarize"]
