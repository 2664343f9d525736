"""Several models over several seeds, each trained into its own folder of one comparison folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .checkpoint import CHECKPOINT_FILE
from .config import TrainConfig, config_from_settings
from .distributed import barrier
from .errors import ConfigError, Interrupted, RunError
from .files import read_json, write_json
from ..models.family import options_for
from .run import (COMPARISON_FILE, SUMMARY_FILE, prepare_output, resumed_config, train_run,
                  with_resume_changes)

#: Outcomes a resumed comparison keeps instead of running again: retrying would fail the same way.
FINAL_FAILURES = ("diverged", "solver_failed")


def run_folder(model: str, seed: int) -> str:
    return f"{model}-seed{seed}"


def read_comparison(out: Path) -> dict:
    try:
        return read_json(Path(out) / COMPARISON_FILE)
    except FileNotFoundError:
        raise ConfigError(f"{out} is not a comparison folder (no {COMPARISON_FILE}); give the --out folder "
                          "of adamnode compare") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{Path(out) / COMPARISON_FILE} is damaged ({error}); start again with --overwrite") from None


def start_comparison(base: TrainConfig, models: list[str], seeds: list[int], out: Path, overwrite: bool) -> None:
    prepare_output(out, overwrite)
    write_json(out / COMPARISON_FILE, {
        "task": base.task, "models": models, "seeds": seeds, "settings": base.settings(),
        "runs": [run_folder(model, seed) for model in models for seed in seeds],
    })


def saved_comparison(out: Path, changes: dict) -> tuple[TrainConfig, list[str], list[int]]:
    """The base config, models and seeds of the comparison in ``out``, with resumable ``changes``."""
    saved = read_comparison(out)
    base = with_resume_changes(config_from_settings(saved["settings"]), changes, out)
    return base, saved["models"], saved["seeds"]


def run_comparison(base: TrainConfig, models: list[str], seeds: list[int], out: Path, *, resume: bool,
                   log: Callable[[str], None] = print) -> list[str]:
    """Train every (model, seed) not yet done; return the failed ones as "model seed N"."""
    failures = []
    total = len(models) * len(seeds)
    for index, (model, seed) in enumerate(((m, s) for m in models for s in seeds), start=1):
        run_dir = out / run_folder(model, seed)
        label = f"[{index}/{total}] {model} seed {seed}"
        # Each run records only the options its model takes: its row of the table shows those.
        config = base.replace(model=model, seed=seed, out=str(run_dir),
                              model_options=options_for(model, base.model_options))
        try:
            summary = _train_or_resume(config, run_dir, resume)
        except Interrupted:
            raise Interrupted(f"comparison stopped during {model} seed {seed}; continue it with: "
                              f"adamnode compare --resume {out}") from None
        except RunError as error:
            failures.append(f"{model} seed {seed}")
            log(f"{label}: FAILED: {error}")
            continue
        log(f"{label}: {_outcome(summary)}")
    return failures


def _train_or_resume(config: TrainConfig, run_dir: Path, resume: bool) -> dict:
    summary = read_json(run_dir / SUMMARY_FILE) if resume and (run_dir / SUMMARY_FILE).is_file() else None
    if summary and summary["status"] == "complete" and summary["epochs_completed"] >= config.epochs:
        return summary
    if summary and summary["status"] in FINAL_FAILURES:
        raise RunError(f"kept from the earlier attempt: {summary['status']} ({summary['error']})")
    if resume and (run_dir / CHECKPOINT_FILE).is_file():
        changes = {"epochs": config.epochs, "device": config.device}
        resumed, state = resumed_config(run_dir, changes)
        return train_run(resumed, run_dir, resume_state=state, log=None)
    # Under torchrun rank 0 is about to clear the folder the other ranks may still be reading.
    barrier()
    return train_run(config, run_dir, overwrite=True, log=None)


def _outcome(summary: dict) -> str:
    final, metric = summary["final"], summary["metric"]
    return (f"train loss {final['train_loss']:.4f}, test {metric} {final[f'test_{metric}']:.3f}, "
            f"NFE-F {final['nfe_forward']:.1f}, NFE-B {final['nfe_backward']:.1f}, "
            f"{summary['seconds_per_epoch']:.2f} s/epoch")
