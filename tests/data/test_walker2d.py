"""The Walker2d loader: every rollout checked against the pinned list of digests."""

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from adamnode.data import DataError, walker2d
from adamnode.data.walker2d import SUMS_FILE, read_walker2d, rollout_name


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    sums = "".join(f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files.items()))
    (folder / SUMS_FILE).write_bytes(sums.encode())


@pytest.fixture
def small(tmp_path, monkeypatch):
    """Three rollouts with their SHA256SUMS, whose own digest is pinned for the test."""
    arrays = [np.arange(n * 17, dtype=np.float64).reshape(n, 17) / 7 for n in (5, 6, 7)]
    files = {rollout_name(i): npy(array) for i, array in enumerate(arrays)}
    folder = tmp_path / "walker2d"
    write_folder(folder, files)
    monkeypatch.setattr(walker2d, "ROLLOUTS", 3)
    monkeypatch.setattr(walker2d, "SUMS_SHA256", hashlib.sha256((folder / SUMS_FILE).read_bytes()).hexdigest())
    return folder, arrays


def test_the_checked_rollouts_are_read_in_file_order(tmp_path, small):
    folder, arrays = small
    rollouts = read_walker2d(tmp_path)
    assert [r.shape for r in rollouts] == [(5, 17), (6, 17), (7, 17)]
    assert all(torch.equal(r, torch.from_numpy(a)) for r, a in zip(rollouts, arrays))
    # The folder itself works as the data directory too.
    assert len(read_walker2d(folder)) == 3


def test_an_altered_rollout_fails_its_digest(tmp_path, small):
    folder, arrays = small
    changed = arrays[1].copy()
    changed[2, 3] += 1.0
    (folder / rollout_name(1)).write_bytes(npy(changed))
    with pytest.raises(DataError, match=rf"{rollout_name(1)} fails its SHA256 check"):
        read_walker2d(tmp_path)


def test_a_truncated_rollout_fails_its_digest(tmp_path, small):
    folder, _ = small
    path = folder / rollout_name(2)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=rf"{rollout_name(2)} fails its SHA256 check"):
        read_walker2d(tmp_path)


def test_an_edited_list_of_digests_is_refused(tmp_path, small):
    folder, arrays = small
    # A consistent folder of other data: each file matches the list, but the list is not the published one.
    write_folder(folder, {rollout_name(i): npy(array + 1) for i, array in enumerate(arrays)})
    with pytest.raises(DataError, match=rf"{SUMS_FILE} fails its SHA256 check"):
        read_walker2d(tmp_path)


def test_a_missing_rollout_is_named(tmp_path, small):
    folder, _ = small
    (folder / rollout_name(0)).unlink()
    with pytest.raises(DataError, match=rf"{rollout_name(0)} is missing"):
        read_walker2d(tmp_path)


def test_a_missing_folder_says_where_to_get_the_data(tmp_path):
    with pytest.raises(DataError, match=f"{SUMS_FILE} not found .*CfC"):
        read_walker2d(tmp_path)
