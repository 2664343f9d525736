"""``deferred_interrupt``: the first stop signal asks, a repeat within a second is the same request,
a later one stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from adamnode.training.interrupt import SAME_REQUEST_SECONDS, deferred_interrupt


def test_a_repeated_signal_is_one_request_and_a_later_one_stops_at_once(capsys):
    before = signal.getsignal(signal.SIGINT)  # ignored where the tests run in the background (nohup, CI)
    with deferred_interrupt() as request:
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.requested
        os.kill(os.getpid(), signal.SIGINT)  # a scheduler's copy and compare's, moments apart
        request.since -= SAME_REQUEST_SECONDS
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert capsys.readouterr().err.count("stopping after the current step") == 1
    assert signal.getsignal(signal.SIGINT) == before
