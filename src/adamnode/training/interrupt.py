"""Ctrl-C or SIGTERM during training: finish the current step, checkpoint, then stop."""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

#: Ctrl-C, and the polite stop that schedulers (Slurm, Kubernetes) and ``kill`` send before a SIGKILL.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: A second signal this soon after the first is the same request, not "stop at once": a scheduler
#: signals every process of a job, and ``compare --jobs`` passes the signal on to its runs as well.
SAME_REQUEST_SECONDS = 1.0


class StopRequest:
    """Set by the first stop signal; the loop polls ``requested`` between steps."""

    def __init__(self):
        self.requested = False
        self.since = 0.0


def tell(message: str) -> None:
    """``message`` on stderr, from a signal handler: a failed print must not abort the stop it reports."""
    try:
        print(message, file=sys.stderr, flush=True)
    except OSError:
        pass  # stderr went with a closed pipe or terminal


@contextmanager
def deferred_interrupt() -> Iterator[StopRequest]:
    """Turn the first SIGINT or SIGTERM into a stop request; a second one, a second or more later,
    interrupts at once.

    Signal handlers can only be installed from the main thread; elsewhere the signals keep their
    defaults.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        now = time.monotonic()
        if request.requested:
            if now - request.since < SAME_REQUEST_SECONDS:
                return
            raise KeyboardInterrupt
        request.requested, request.since = True, now
        tell(f"\n{signal.Signals(signum).name}: stopping after the current step to write a checkpoint "
             "(send it again to stop at once)")

    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
