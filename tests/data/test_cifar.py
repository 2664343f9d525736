"""The CIFAR-10 reader on a tiny synthetic CIFAR-10 written in the official pickle format."""

import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch

from adamnode.data import DataError
from adamnode.data import cifar
from adamnode.data.cifar import FOLDER, read_cifar10

PER_BATCH = 4


class Python2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for the official batches: protocol 2, every string a
    byte string (BINSTRING), numpy under its old module name."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_byte_string(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = dispatch[str] = save_byte_string


def write_batch(path, data, labels):
    batch = {b"batch_label": b"synthetic", b"labels": list(labels), b"data": data,
             b"filenames": [b"img%d.png" % i for i in range(len(labels))]}
    stream = io.BytesIO()
    Python2Pickler(stream, protocol=2).dump(batch)
    path.write_bytes(stream.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def synthetic(tmp_path):
    """A CIFAR-10 of PER_BATCH images per batch: (data dir, its checksum table, {name: (data, labels)})."""
    folder = tmp_path / FOLDER
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in cifar.OFFICIAL_MD5:
        data = rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=PER_BATCH).tolist()
        write_batch(folder / name, data, labels)
        batches[name] = (data, labels)
    return tmp_path, {name: md5(folder / name) for name in batches}, batches


def read(split, data_dir, checksums):
    return read_cifar10(split, data_dir, download_missing=False, checksums=checksums, images_per_batch=PER_BATCH)


def test_round_trip_keeps_pixel_layout_and_labels(synthetic):
    data_dir, checksums, batches = synthetic
    images, labels = read("train", data_dir, checksums)
    assert images.shape == (5 * PER_BATCH, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert labels.tolist() == [label for name in cifar.SPLITS["train"] for label in batches[name][1]]
    first = batches["data_batch_1"][0][0]
    # Row-major per channel: green (second 1024 block), row 2, column 5.
    assert images[0, 1, 2, 5] == first[1024 + 2 * 32 + 5]
    assert np.array_equal(images[-1].numpy().reshape(-1), batches["data_batch_5"][0][-1])
    test_images, test_labels = read("test", data_dir / FOLDER, checksums)
    assert test_images.shape == (PER_BATCH, 3, 32, 32) and test_labels.tolist() == batches["test_batch"][1]


def test_official_checksums_reject_other_files(synthetic):
    data_dir, _, _ = synthetic
    with pytest.raises(DataError, match=r"test_batch fails its MD5 check \(expected 40351d587109b95175f43aff81a1287e"):
        read_cifar10("test", data_dir, download_missing=False, images_per_batch=PER_BATCH)


def test_batch_of_the_wrong_shape(synthetic):
    data_dir, checksums, _ = synthetic
    path = data_dir / FOLDER / "test_batch"
    write_batch(path, np.zeros((PER_BATCH, 3000), dtype=np.uint8), [0] * PER_BATCH)
    checksums = {**checksums, "test_batch": md5(path)}
    with pytest.raises(DataError, match=r"b'data' is uint8 \(4, 3000\), expected uint8 \(4, 3072\)"):
        read("test", data_dir, checksums)
    with pytest.raises(DataError, match=r"expected uint8 \(10000, 3072\)"):
        read_cifar10("test", data_dir, download_missing=False, checksums=checksums)


@pytest.mark.parametrize("bad_label", [10, -1])
def test_label_out_of_range_and_nothing_cached(synthetic, bad_label):
    data_dir, checksums, batches = synthetic
    path = data_dir / FOLDER / "data_batch_5"
    write_batch(path, batches["data_batch_5"][0], [bad_label] + batches["data_batch_5"][1][1:])
    cached_before = dict(cifar._CACHE)
    with pytest.raises(DataError, match=r"data_batch_5: b'labels' must be 4 integers in 0..9"):
        read("train", data_dir, {**checksums, "data_batch_5": md5(path)})
    assert cifar._CACHE == cached_before


def test_missing_batch_says_where_to_put_it(synthetic):
    data_dir, checksums, _ = synthetic
    (data_dir / FOLDER / "data_batch_3").unlink()
    with pytest.raises(DataError, match=rf"data_batch_3 not found in {data_dir / FOLDER}; unpack"):
        read("train", data_dir, checksums)


def test_crafted_pickle_runs_no_code(synthetic):
    data_dir, checksums, _ = synthetic
    marker = data_dir / "executed"

    class Payload:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    path = data_dir / FOLDER / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Payload(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 python batch \(refusing to load"):
        read("test", data_dir, {**checksums, "test_batch": md5(path)})
    assert not marker.exists()


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="unknown CIFAR-10 split"):
        read_cifar10("valid", tmp_path)


def test_missing_batches_are_fetched_from_the_archive(synthetic, tmp_path, monkeypatch):
    source, checksums, batches = synthetic
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / FOLDER, arcname=FOLDER)
    monkeypatch.setattr(cifar, "ARCHIVE_URL", archive.as_uri())
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5(archive))
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    images, labels = read_cifar10("test", data_dir, checksums=checksums, images_per_batch=PER_BATCH)
    assert labels.tolist() == batches["test_batch"][1]
    assert sorted(p.name for p in data_dir.iterdir()) == [FOLDER]
    assert sorted(p.name for p in (data_dir / FOLDER).iterdir()) == sorted(cifar.OFFICIAL_MD5)


def test_labels_of_the_wrong_length(synthetic):
    data_dir, checksums, batches = synthetic
    path = data_dir / FOLDER / "test_batch"
    write_batch(path, batches["test_batch"][0], [])
    with pytest.raises(DataError, match=r"b'labels' must be 4 integers in 0..9, got shape \(0,\)"):
        read("test", data_dir, {**checksums, "test_batch": md5(path)})
