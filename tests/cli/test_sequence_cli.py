"""A tiny run of each sequence task through the command line, on the real data."""

import csv

import pytest
from cli_helpers import TINY, adamnode


@pytest.mark.parametrize("task, folder", [("planevibration", "f16"), ("walker2d", "walker2d")])
def test_a_tiny_run_trains_and_records_the_test_mse(shared_datasets, tmp_path, task, folder):
    if not (shared_datasets / folder).is_dir():
        pytest.skip(f"no shared/datasets/{folder}")
    out = tmp_path / task
    result = adamnode("train", "--task", task, "--model", "adamnode", *TINY, "--data-dir", str(shared_datasets),
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    with open(out / "metrics.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 1 and float(rows[0]["test_mse"]) > 0 and float(rows[0]["nfe_forward"]) > 0
    if task == "planevibration":
        assert float(rows[0]["test_forecast_mse"]) > 0
