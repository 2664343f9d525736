"""adamnode's folders as objects: a run's, a comparison's; and the one way an output folder is claimed."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import DamagedFile
from .atomic import read_json, write_json
from .lock import folder_lock, is_main_process
from .names import CHECKPOINT_FILE, COMPARISON_FILE, CONFIG_FILE, METRICS_FILE, RESULTS_CSV, RESULTS_MD, STEPS_FILE, \
    SUMMARY_FILE
from .ownership import check_output, remove_if_empty, replace_output
from .paths import child


def read_record(path: Path, keys: tuple[str, ...], remedy: str) -> dict:
    """The JSON object adamnode wrote at ``path``, holding ``keys``; ``DamagedFile`` naming the file and
    the ``remedy`` if it cannot be read, is not an object or lacks one of them."""
    try:
        content = read_json(path)
        problem = None if isinstance(content, dict) else "not a JSON object"
    except (OSError, ValueError) as error:
        content, problem = None, " ".join(str(error).split())
    missing = [key for key in keys if problem is None and key not in content]
    if problem or missing:
        raise DamagedFile(f"{path} is damaged ({problem or 'no ' + ', '.join(missing)}); {remedy}")
    return content


@dataclass(frozen=True, order=True)
class RunFolder:
    """One run's folder: the paths of its files, and its JSON records written and read back."""

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

    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    def has_summary(self) -> bool:
        return self.summary.is_file()

    def write_description(self, description: dict[str, Any]) -> None:
        if is_main_process():
            write_json(self.config, description)

    def write_summary(self, summary: dict[str, Any]) -> None:
        if is_main_process():
            write_json(self.summary, summary)

    def read_description(self, keys: tuple[str, ...] = ("settings",)) -> dict:
        return read_record(self.config, keys, "rerun that run with --overwrite")

    def read_summary(self, keys: tuple[str, ...] = ("status",)) -> dict:
        return read_record(self.summary, keys, "delete it to run that run again, or start the comparison again "
                                               "with --overwrite")

    def lock(self):
        """Hold the run's write lock (``FolderBusy`` if another process writes it)."""
        return folder_lock(self.path)


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
        """The run folder ``name`` (read back from the record: it must stay a plain name inside)."""
        return RunFolder(child(self.path, name, str(self.record)))

    def write_record(self, record: dict[str, Any]) -> None:
        write_json(self.record, record)

    def read_record(self) -> dict:
        """The record as JSON; what it must hold is the comparison's to check (``training.comparison``)."""
        return read_record(self.record, (), "restore it or start again with --overwrite")


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
    folder = Path(folder)
    if fresh:
        on_main(lambda: check_output(folder, overwrite, resumable=resumable))
    with _writing(folder, create=fresh) as created:
        if fresh:
            on_main(lambda: check_output(folder, overwrite, resumable=resumable))  # again, now that we hold it
        yield Claim(folder, files, folders, created, fresh, on_main)


@contextmanager
def _writing(folder: Path, create: bool) -> Iterator[bool]:
    """Lock ``folder`` for writing, creating it (and missing parents) if ``create``.

    Yields whether this call created ``folder``. Folders it created and that are still empty when
    the block ends (nothing was written, e.g. the new run's data failed its check) are removed.
    """
    missing = [] if not create or not is_main_process() else [
        path for path in [folder, *folder.parents] if not path.exists()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(folder):
            yield bool(missing)
    finally:
        for path in missing:  # the deepest first
            remove_if_empty(path)
