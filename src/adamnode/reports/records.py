"""Reading run folders back: settings, per-epoch history and summary of each run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..training.comparison import read_comparison
from ..errors import ConfigError, DamagedFile
from ..store import COMPARISON_FILE, CONFIG_FILE, ComparisonFolder, RunFolder, read_json, read_steps, read_table


@dataclass
class RunRecord:
    path: Path
    settings: dict
    metric: str
    parameters: int
    history: list[dict]
    summary: dict | None
    steps: list[dict] = field(default_factory=list)
    #: The task's further test metrics (``test_<name>`` columns); none in records from before them.
    extra_metrics: tuple[str, ...] = ()
    #: Each ODE block's field as built: ``{"class": name, "options": {...}}`` with defaults filled in;
    #: none in folders adamnode 0.1.0 wrote, which recorded only the options given.
    fields: tuple[dict, ...] = ()

    @property
    def model(self) -> str:
        return self.settings["model"]

    @property
    def seed(self) -> int:
        return self.settings["seed"]

    @property
    def status(self) -> str:
        return self.summary["status"] if self.summary else "unfinished"

    @property
    def complete(self) -> bool:
        return self.status == "complete"


def load_run(path: Path) -> RunRecord:
    run = RunFolder(path)
    try:
        description = read_json(run.config)
        problem = _description_problem(description)
        if problem:
            raise ValueError(f"{run.config}: {problem}")
        history = read_table(run.metrics) if run.metrics.exists() else []
        required = ("epoch", "train_loss", "nfe_forward", "nfe_backward", f"test_{description['metric']}")
        lacking = [key for key in required if history and key not in history[0]]
        if lacking:
            raise ValueError(f"{run.metrics}: no column {', '.join(lacking)}")
        summary = read_json(run.summary) if run.summary.exists() else None
        if summary is not None and not (isinstance(summary, dict) and isinstance(summary.get("status"), str)):
            raise ValueError(f"{run.summary}: not a summary with a status")
        steps = read_steps(run.steps) if run.steps.exists() else []
    except (OSError, ValueError, KeyError) as error:
        raise DamagedFile(f"{path} holds a damaged run record ({' '.join(str(error).split())}); "
                          "rerun it with --overwrite") from None
    return RunRecord(path, description["settings"], description["metric"], description["parameters"], history, summary,
                     steps, tuple(description.get("extra_metrics", ())), tuple(description.get("fields", ())))


def _description_problem(description) -> str | None:
    """What is wrong with a run's ``config.json`` content, if anything."""
    if not isinstance(description, dict):
        return "not a JSON object"
    missing = [key for key in ("settings", "metric", "parameters") if key not in description]
    if missing:
        return f"no {', '.join(repr(key) for key in missing)}"
    settings = description["settings"]
    if not isinstance(settings, dict) or not all(key in settings for key in ("task", "model", "seed")):
        return "'settings' lack task, model or seed"
    if not isinstance(description["metric"], str) or not isinstance(description["parameters"], int):
        return "'metric' or 'parameters' of the wrong type"
    fields = description.get("fields", [])
    if not (isinstance(fields, list) and all(isinstance(field, dict) and isinstance(field.get("class"), str)
                                             and isinstance(field.get("options"), dict) for field in fields)):
        return "'fields' is not a list of {class, options}"
    return None


def find_runs(path: Path) -> list[RunRecord]:
    """The run in ``path``, or the runs of the comparison in ``path`` in the order they were run."""
    path = Path(path)
    if RunFolder(path).is_run():
        return [load_run(path)]
    comparison = ComparisonFolder(path)
    if comparison.is_comparison():
        folders = [comparison.run(name) for name in read_comparison(path)["runs"]]
    else:
        folders = sorted(RunFolder(child) for child in path.iterdir()) if path.is_dir() else []
    records = [load_run(folder.path) for folder in folders if folder.is_run()]
    if not records:
        raise ConfigError(f"{path} is not a run or comparison folder (no {CONFIG_FILE} or {COMPARISON_FILE}); "
                          "give the --out folder of adamnode train or compare")
    return records
