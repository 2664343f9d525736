"""The store: the one place that names the files adamnode keeps in its folders, and the one way an
output folder is claimed.

A run folder holds ``config.json`` (the settings and the description of the run), ``metrics.csv``
(a row per epoch), ``steps.csv`` (a row per logged window of steps), ``summary.json`` (how the run
ended) and ``checkpoint.pt`` (everything needed to resume). A comparison folder holds
``comparison.json``, one run folder per (model, seed) and the tables and plots drawn from them
(``results.csv``, ``results.md``). A precision study keeps ``precision.json`` and what is drawn
from it, a stability study its table and figure. Every folder holds adamnode's manifest and its
write lock (``training.folders``: ownership, one writer, the link rule).

Other modules take these names from here; a test fails if one spells them itself. Reading a run
folder back goes through ``RunFolder`` (``reports.records`` builds its records from it).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

# A run folder.
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
STEPS_FILE = "steps.csv"
SUMMARY_FILE = "summary.json"
CHECKPOINT_FILE = "checkpoint.pt"
#: The files a run writes into its folder (recorded in its manifest before they are first written).
RUN_FILES = (CONFIG_FILE, METRICS_FILE, STEPS_FILE, SUMMARY_FILE, CHECKPOINT_FILE)

# A comparison folder: its record, and the tables drawn from its runs.
COMPARISON_FILE = "comparison.json"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"

# A precision study's folder: the record, and what is drawn from it.
PRECISION_RECORD, PRECISION_CSV, PRECISION_MD = "precision.json", "precision.csv", "precision.md"
PRECISION_FIGURES = ("precision_grad_vs_nfe.png", "precision_grad_vs_time.png")

# A stability study's folder.
STABILITY_FILES = ("stability.csv", "stability.md", "stability.png")

# In every folder adamnode writes: what it wrote (the manifest) and who writes now (the lock).
MANIFEST_FILE = ".adamnode-files.json"
LOCK_FILE = ".adamnode.lock"

#: Every name above: the test of the store's rule looks for them elsewhere.
NAMES = (*RUN_FILES, COMPARISON_FILE, RESULTS_CSV, RESULTS_MD, PRECISION_RECORD, PRECISION_CSV, PRECISION_MD,
         *PRECISION_FIGURES, *STABILITY_FILES, MANIFEST_FILE, LOCK_FILE)


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and the paths of its files."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def steps(self) -> Path:
        return self.path / STEPS_FILE

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_FILE

    def is_run(self) -> bool:
        """Whether a run was written here (its ``config.json`` exists)."""
        return self.config.is_file()


@dataclass(frozen=True)
class ComparisonFolder:
    """A comparison's folder: its record, its tables and its runs' folders."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def record(self) -> Path:
        return self.path / COMPARISON_FILE

    @property
    def results_csv(self) -> Path:
        return self.path / RESULTS_CSV

    @property
    def results_md(self) -> Path:
        return self.path / RESULTS_MD

    def is_comparison(self) -> bool:
        return self.record.is_file()

    def run(self, name: str) -> RunFolder:
        return RunFolder(self.path / name)


class Claim:
    """An output folder held by ``claimed``: ``take()`` replaces what adamnode wrote in it before with
    the new ``files`` (recorded in its manifest); call it once the new work has been loaded and
    checked, since from then on the old one is gone."""

    def __init__(self, folder: Path, files: Iterable[str], folders: Iterable[str], created: bool, fresh: bool,
                 on_main: Callable):
        self.folder, self.files, self.folders = folder, tuple(files), tuple(folders)
        self.created, self.fresh, self._on_main = created, fresh, on_main

    def take(self, folders: Iterable[str] = ()) -> None:
        """Replace adamnode's old files; ``folders`` are further folders the new work will write."""
        if self.fresh:
            from .training.folders import replace_output

            owned = (*self.folders, *folders)
            self._on_main(lambda: replace_output(self.folder, self.files, owned, created=self.created))


@contextmanager
def claimed(folder: Path, files: Iterable[str], *, overwrite: bool = False, fresh: bool = True,
            resumable: bool = True, folders: Iterable[str] = (),
            on_main: Callable[[Callable], object] = lambda call: call()) -> Iterator[Claim]:
    """Claim ``folder`` as an output: refuse it while that is cheap (``check_output``), lock it
    (creating it if ``fresh``), refuse it again now that this process holds it, and yield a ``Claim``
    whose ``take()`` replaces adamnode's old files. A resumed folder (``fresh=False``) is only
    locked. ``on_main`` runs the checks and the replacement once (rank 0 under torchrun)."""
    from .training.folders import check_output, writing

    folder = Path(folder)
    if fresh:
        on_main(lambda: check_output(folder, overwrite, resumable=resumable))
    with writing(folder, create=fresh) as created:
        if fresh:
            on_main(lambda: check_output(folder, overwrite, resumable=resumable))  # again, now that we hold it
        yield Claim(folder, files, folders, created, fresh, on_main)
