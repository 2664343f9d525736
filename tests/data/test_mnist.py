"""The MNIST reader on the real files, and on corrupted copies of them written to tmp_path."""

import gzip
import struct

import pytest
import torch

from adamnode.data import DataError
from adamnode.data import mnist
from adamnode.data.mnist import read_mnist

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LABELS, IMAGES = "t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"


def pixel_mean_std(images):
    # From the histogram: exact, and without a float copy of 47M pixels.
    counts = torch.bincount(images.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    return float(mean), float(((counts * values ** 2).sum() / counts.sum() - mean ** 2).sqrt())


def test_train_split_matches_the_published_facts(mnist_dir):
    images, labels = read_mnist("train", mnist_dir, download_missing=False)
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(labels).tolist() == TRAIN_COUNTS
    mean, std = pixel_mean_std(images)
    assert mean == pytest.approx(0.1307, abs=5e-5) and std == pytest.approx(0.3081, abs=5e-5)


def test_test_split_matches_the_published_facts_and_is_cached(mnist_dir):
    images, labels = read_mnist("test", mnist_dir, download_missing=False)
    assert images.shape == (10_000, 1, 28, 28)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(labels).tolist() == TEST_COUNTS
    again = read_mnist("test", mnist_dir.parent, download_missing=False)
    assert again[0] is images and again[1] is labels


@pytest.fixture(scope="module")
def raw_test_files(mnist_dir):
    """The uncompressed test-split files as bytes."""
    return {stem: gzip.decompress((mnist_dir / f"{stem}.gz").read_bytes()) for stem in (LABELS, IMAGES)}


def write_split(folder, raw_test_files, **replacements):
    """The test split in ``folder`` as raw IDX files, with ``replacements`` (stem -> bytes)."""
    folder.mkdir(exist_ok=True)
    for stem in (LABELS, IMAGES):
        (folder / stem).write_bytes(replacements.get(stem, raw_test_files[stem]))
    return folder


def test_raw_files_read_like_gzipped_ones(tmp_path, mnist_dir, raw_test_files):
    raw = read_mnist("test", write_split(tmp_path, raw_test_files), download_missing=False)
    packed = read_mnist("test", mnist_dir, download_missing=False)
    assert torch.equal(raw[0], packed[0]) and torch.equal(raw[1], packed[1])


def test_truncated_file_names_file_and_expected_length(tmp_path, raw_test_files):
    folder = write_split(tmp_path, raw_test_files, **{LABELS: raw_test_files[LABELS][:5000]})
    with pytest.raises(DataError, match=rf"{LABELS} is truncated: 5000 bytes uncompressed, expected 10008"):
        read_mnist("test", folder, download_missing=False)


def test_file_shorter_than_its_header(tmp_path, raw_test_files):
    folder = write_split(tmp_path, raw_test_files, **{LABELS: raw_test_files[LABELS][:6]})
    with pytest.raises(DataError, match="less than its 8-byte IDX header"):
        read_mnist("test", folder, download_missing=False)


def test_truncated_gzip_is_reported(tmp_path, mnist_dir, raw_test_files):
    write_split(tmp_path, raw_test_files)
    (tmp_path / IMAGES).unlink()
    packed = (mnist_dir / f"{IMAGES}.gz").read_bytes()
    (tmp_path / f"{IMAGES}.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=rf"{IMAGES}.gz cannot be read"):
        read_mnist("test", tmp_path, download_missing=False)


def test_wrong_magic_number(tmp_path, raw_test_files):
    images_as_labels = struct.pack(">I", mnist.IMAGE_MAGIC) + raw_test_files[LABELS][4:]
    folder = write_split(tmp_path, raw_test_files, **{LABELS: images_as_labels})
    with pytest.raises(DataError, match="magic number 0x00000803, expected 0x00000801"):
        read_mnist("test", folder, download_missing=False)


def test_wrong_declared_count(tmp_path, raw_test_files):
    header = struct.pack(">II", mnist.LABEL_MAGIC, 9_999)
    folder = write_split(tmp_path, raw_test_files, **{LABELS: header + raw_test_files[LABELS][8:]})
    with pytest.raises(DataError, match=r"declares dimensions \(9999,\), expected \(10000,\)"):
        read_mnist("test", folder, download_missing=False)


def test_changed_pixel_fails_md5_and_caches_nothing(small_mnist):
    folder, original = small_mnist.folder, small_mnist.files[IMAGES]
    corrupt = bytearray(original)
    corrupt[-1] ^= 0xFF
    (folder / IMAGES).write_bytes(bytes(corrupt))
    cached_before = dict(mnist._CACHE)
    # The labels pass and are parsed first: they must not be cached without their images.
    with pytest.raises(DataError, match=rf"{IMAGES} fails its MD5 check \(expected {mnist.MD5[IMAGES]}"):
        read_mnist("test", folder, download_missing=False)
    assert mnist._CACHE == cached_before
    (folder / IMAGES).write_bytes(original)
    images, labels = read_mnist("test", folder, download_missing=False)
    assert torch.equal(images[:, 0], small_mnist.images["test"]) and torch.equal(labels, small_mnist.labels["test"])


def test_missing_file_says_what_to_put_where(tmp_path, raw_test_files):
    folder = write_split(tmp_path, raw_test_files)
    (folder / IMAGES).unlink()
    with pytest.raises(DataError, match=rf"{IMAGES} not found in {folder}; put them there"):
        read_mnist("test", folder, download_missing=False)


def test_empty_data_dir_looks_in_its_mnist_subfolder(tmp_path):
    with pytest.raises(DataError, match=rf"not found in {tmp_path / 'mnist'}"):
        read_mnist("train", tmp_path, download_missing=False)


def test_nonexistent_data_dir_and_unknown_split(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_mnist("test", tmp_path / "typo", download_missing=False)
    with pytest.raises(ValueError, match="unknown MNIST split 'valid'"):
        read_mnist("valid", tmp_path)


def test_missing_files_are_downloaded_from_the_first_working_mirror(tmp_path, mnist_dir, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for stem in (LABELS, IMAGES):
        (mirror / f"{stem}.gz").symlink_to(mnist_dir / f"{stem}.gz")
    monkeypatch.setattr(mnist, "MIRRORS", ((tmp_path / "dead").as_uri() + "/", mirror.as_uri() + "/"))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    images, labels = read_mnist("test", data_dir)
    assert sorted(p.name for p in (data_dir / "mnist").iterdir()) == [f"{IMAGES}.gz", f"{LABELS}.gz"]
    assert labels[:3].tolist() == [7, 2, 1] and images.shape == (10_000, 1, 28, 28)


def test_download_failing_everywhere_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", ((tmp_path / "dead").as_uri() + "/",))
    with pytest.raises(DataError, match=rf"{IMAGES}, {LABELS} not found in {tmp_path / 'mnist'} and not downloadable"):
        read_mnist("test", tmp_path)
