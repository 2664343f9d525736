"""The store: every file adamnode keeps on disk, and the rules it keeps them by.

- ``names``: the files' names, spelled here and nowhere else (a test fails if another module does).
- ``atomic``: every write is atomic; a reader or a killed process sees the old file or the new one.
- ``ownership``: each folder's manifest of what adamnode wrote, so that ``--overwrite`` deletes
  exactly that and nothing of the user's.
- ``lock``: one writer per folder; only rank 0 of a torchrun job writes.
- ``paths``: names read back from files stay inside their folder; links are never followed.
- ``tables``: the CSV tables (``metrics.csv``, ``steps.csv``, the studies' ledgers), written and read back.
- ``folders``: ``RunFolder`` and ``ComparisonFolder``, and ``claimed``, the one way a command takes an
  output folder (train, compare, precision, stability).

The rest of the harness reads and writes its folders through these; the library never does.
"""

from .atomic import atomic_write, read_json, temporaries, write_json, write_text
from .folders import Claim, ComparisonFolder, RunFolder, claimed, read_record
from .lock import folder_lock, is_main_process
from .names import (CHECKPOINT_FILE, COMPARISON_FILE, CONFIG_FILE, LOCK_FILE, MANIFEST_FILE, METRICS_FILE, NAMES,
                    PRECISION_CSV, PRECISION_FIGURES, PRECISION_MD, PRECISION_RECORD, RESULTS_CSV, RESULTS_MD,
                    RUN_FILES, STABILITY_FILES, STEPS_FILE, SUMMARY_FILE)
from .ownership import check_output, clear_owned, own_files, read_manifest, record, removal_plan
from .paths import child, linked
from .tables import STEP_COLUMNS, cell, read_steps, read_table, write_table

__all__ = [
    "CHECKPOINT_FILE", "COMPARISON_FILE", "CONFIG_FILE", "Claim", "ComparisonFolder", "LOCK_FILE", "MANIFEST_FILE",
    "METRICS_FILE", "NAMES", "PRECISION_CSV", "PRECISION_FIGURES", "PRECISION_MD", "PRECISION_RECORD", "RESULTS_CSV",
    "RESULTS_MD", "RUN_FILES", "RunFolder", "STABILITY_FILES", "STEPS_FILE", "STEP_COLUMNS", "SUMMARY_FILE",
    "atomic_write", "cell", "check_output", "child", "claimed", "clear_owned", "folder_lock", "is_main_process", "linked", "own_files",
    "read_json", "read_manifest", "read_record", "read_steps", "read_table", "record", "removal_plan", "temporaries",
    "write_json", "write_table", "write_text",
]
