"""Data directory resolution, checksum checks and the download routine (offline, via file:// URLs)."""

import gzip
import hashlib

import pytest

from adamnode.data import store
from adamnode.data.store import DataError, download, existing_data_dir, resolve_data_dir, verify, verify_bytes


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path) == tmp_path
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv(store.ENV_VAR)
    assert resolve_data_dir(None) == store.DEFAULT_DIR


def test_a_named_directory_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    assert existing_data_dir(tmp_path) == tmp_path
    with pytest.raises(DataError, match="typo does not exist; pass --data-dir"):
        existing_data_dir(tmp_path / "typo")
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "unset"))
    with pytest.raises(DataError, match="unset does not exist"):
        existing_data_dir(None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a directory"):
        existing_data_dir(tmp_path / "file")


def test_checksums_of_files_and_of_gzip_content(tmp_path):
    content = b"adamnode" * 100
    plain, packed = tmp_path / "plain", tmp_path / "packed.gz"
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    digest = hashlib.md5(content).hexdigest()
    verify(plain, "md5", digest)
    verify(packed, "md5", digest, opener=gzip.open)
    verify_bytes(content, plain, "md5", digest)
    with pytest.raises(DataError, match=rf"plain fails its MD5 check \(expected 0+, got {digest}\)"):
        verify(plain, "md5", "0" * 32)
    with pytest.raises(DataError, match="fails its MD5 check"):
        verify_bytes(content[:-1], plain, "md5", digest)


def test_download_is_verified_and_atomic(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(DataError, match="fails its SHA256 check"):
        download(source.as_uri(), target, "sha256", "0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []
    download(source.as_uri(), target, "sha256", hashlib.sha256(b"payload").hexdigest())
    assert target.read_bytes() == b"payload"


def test_failed_download_says_where_to_put_the_file(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(DataError, match=rf"could not download .*; without network, put the file at {target}"):
        download((tmp_path / "absent").as_uri(), target, "md5", "0" * 32)
    assert list(tmp_path.iterdir()) == []
