"""Smoke runs of the benchmarks CI can afford: each script's main on its smallest setting."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def script(name: str):
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their neighbours, as when run from there
    try:
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_overhead_measures_every_loop_once(tmp_path, capsys):
    out = tmp_path / "overhead.json"
    assert script("overhead").main(["--repeats", "1", "--threads", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {"adamnode", "adamnode-checkpoint", "torchdiffeq"} <= set(rows)
    for row in rows.values():
        assert row["nfe_forward"] > 0 and row["overhead_us_per_eval"] > 0 and row["step_us_per_eval"] > 0
    assert "| adamnode-checkpoint |" in capsys.readouterr().out


def test_memory_reports_one_paths_step(capsys):
    module = script("memory")
    result = module.one("checkpoint", 1e-2)
    assert result["steps"] > 0 and result["saved_mb"] > 0 and result["nfe"] > result["steps"]
