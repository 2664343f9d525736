"""``in_processes``: calls side by side in spawned processes, outcomes back whatever happens to them.

Three tests: each spawned process imports torch, seconds each on a busy machine.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from adamnode.errors import ConfigError, Interrupted, RunError
from adamnode.training.interrupt import deferred_interrupt
from adamnode.training.processes import NotStarted, ProcessLost, in_processes


class Unpicklable(Exception):
    def __init__(self):
        super().__init__("held a lock")
        self.lock = threading.Lock()


def square_or_fail(value: int | None) -> int:
    if value is None:
        raise Unpicklable()
    if value < 0:
        raise ValueError(f"negative: {value}")
    if value == 1:
        raise ConfigError("a check of adamnode's own")
    if value == 0:
        os._exit(3)
    return value * value


def test_each_call_returns_its_value_or_its_exception_and_a_dead_process_is_reported():
    outcomes = dict(in_processes(square_or_fail, [(2,), (-1,), (0,), (None,), (1,)], workers=2))
    assert sorted(outcomes) == [0, 1, 2, 3, 4] and outcomes[0] == 4
    assert type(outcomes[4]) is ConfigError and str(outcomes[4]) == "a check of adamnode's own"
    assert isinstance(outcomes[1], RunError) and "unexpected ValueError" in str(outcomes[1])
    assert isinstance(outcomes[2], ProcessLost) and "exit code 3" in str(outcomes[2])
    # Not adamnode's own: a run's failure that names it, rather than an error the parent would
    # take for one of its own checks (and this one could not be pickled either).
    assert isinstance(outcomes[3], RunError) and "unexpected Unpicklable in its process at test_processes.py:" in str(
        outcomes[3]) and str(outcomes[3]).endswith("held a lock (report it)")


def wait_for_a_stop(ready: str, seconds: float) -> bool:
    """With ``seconds`` 0, fail as soon as the other call waits for its stop (marked by ``ready``)."""
    if seconds == 0:
        while not os.path.exists(ready):
            time.sleep(0.05)
        raise ConfigError("refused")
    with deferred_interrupt() as request:
        open(ready, "w").close()
        end = time.monotonic() + seconds
        while not request.requested and time.monotonic() < end:
            time.sleep(0.05)
    return request.requested


def test_closing_early_stops_the_running_calls_and_says_why(tmp_path, capfd):
    ready = str(tmp_path / "waiting")
    outcomes = in_processes(wait_for_a_stop, [(ready, 0), (ready, 600)], workers=2)
    index, outcome = next(outcomes)
    assert index == 0 and isinstance(outcome, ConfigError)
    start = time.monotonic()
    outcomes.close()
    assert time.monotonic() - start < 120  # the other call was asked to stop, not waited out
    error = capfd.readouterr().err
    # The parent's reason comes first; the child's own SIGTERM message must not stand alone.
    assert error.index("stopping the 1 run(s) still going") < error.index("SIGTERM: stopping after the current step")


def stop_when_asked(folder: str, name: str) -> str:
    """Write this process's id to ``folder/name``, then wait (at most 120 s) for a stop signal; ``a``
    installs no handler, as a run still loading its data, so a SIGTERM ends its process."""
    if name == "a":
        announce(folder, name)
        time.sleep(120)
        return name
    with deferred_interrupt() as request:
        announce(folder, name)
        end = time.monotonic() + 120
        while not request.requested and time.monotonic() < end:
            time.sleep(0.05)
    if request.requested:
        raise Interrupted(f"{name} stopped")
    return name


def announce(folder: str, name: str) -> None:
    with open(os.path.join(folder, name), "w") as stream:
        stream.write(str(os.getpid()))


def test_a_call_stopped_on_its_own_stops_the_others_and_each_reports(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"

    def stop_the_first_once_both_wait():
        while not (first.is_file() and first.read_text() and second.is_file()):
            time.sleep(0.05)
        os.kill(int(first.read_text()), signal.SIGTERM)

    threading.Thread(target=stop_the_first_once_both_wait, daemon=True).start()
    reported = dict(in_processes(stop_when_asked, [(str(tmp_path), name) for name in "abc"], workers=2))
    # a's process ended by the signal counts as stopped, not lost; b was asked to stop rather than
    # waited out, and c never started.
    assert [type(reported[index]) for index in range(3)] == [Interrupted, Interrupted, NotStarted]
    assert [str(reported[index]) for index in range(2)] == ["stopped before it could report", "b stopped"]
    assert not (tmp_path / "c").exists()
