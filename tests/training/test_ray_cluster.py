"""``ray_cluster``'s checks that need no Ray: a node that does not see the driver's comparison is
refused in one line naming it, and Ray's connection failures are read back to one reason."""

from __future__ import annotations

import hashlib
import socket

import pytest

from adamnode.training import ray_cluster
from adamnode.errors import ConfigError


@pytest.fixture
def comparison(tmp_path, monkeypatch):
    """A comparison folder as the driver sees it: (its place for the tasks, the folder)."""
    monkeypatch.setattr(ray_cluster, "SEE_SECONDS", 0.0)
    monkeypatch.chdir(tmp_path)  # _enter changes the working folder: monkeypatch puts it back
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "comparison.json").write_text('{"task": "spheres"}')
    digest = hashlib.sha256((folder / "comparison.json").read_bytes()).hexdigest()
    return (str(tmp_path), str(folder), digest), folder


def test_a_node_that_sees_the_drivers_comparison_works_in_the_drivers_folder(comparison, tmp_path):
    place, _ = comparison
    ray_cluster._enter(place)
    assert ray_cluster.os.getcwd() == str(tmp_path)


@pytest.mark.parametrize("change, seen", [("missing", "no"), ("other", "another")])
def test_a_node_that_sees_another_comparison_or_none_is_refused_naming_it(comparison, change, seen):
    place, folder = comparison
    if change == "missing":
        (folder / "comparison.json").unlink()
    else:
        (folder / "comparison.json").write_text('{"task": "mnist"}')
    with pytest.raises(ConfigError) as refused:
        ray_cluster._enter(place)
    message = str(refused.value)
    assert message.startswith(f"the Ray worker on node {socket.gethostname()} sees {seen} comparison.json in {folder}")
    assert "filesystem that every node mounts at the same path" in message and "\n" not in message


def test_a_node_without_the_drivers_folder_is_refused(comparison, tmp_path):
    place, _ = comparison
    with pytest.raises(ConfigError, match=r"has no folder .*/gone, where the driver runs; --backend ray needs"):
        ray_cluster._enter((str(tmp_path / "gone"), *place[1:]))


def test_the_reason_of_a_failed_connection_is_rays_last_core_warning():
    held = ("[2026-12-06 21:35:59,271 W 23191 23191] gcs_client.cc:210: Failed to get cluster ID from GCS server: "
            "Unauthenticated: RPC error: InvalidAuthToken: Authentication token is missing or incorrect\n"
            "some other line\n")
    assert ray_cluster._last_core_warning(held) == ("Failed to get cluster ID from GCS server: Unauthenticated: RPC "
                                                    "error: InvalidAuthToken: Authentication token is missing or "
                                                    "incorrect")
    assert ray_cluster._last_core_warning("nothing of Ray's core\n") is None


def test_an_address_that_is_not_host_and_port_is_refused():
    with pytest.raises(ConfigError, match="^--ray-address nonsense is not HOST:PORT"):
        ray_cluster._check_reachable(None, "nonsense")
