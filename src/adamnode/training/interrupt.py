"""Ctrl-C or SIGTERM during training: finish the current step, checkpoint, then stop."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: Ctrl-C, and the polite stop that schedulers (Slurm, Kubernetes) and ``kill`` send before a SIGKILL.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first stop signal; the loop polls ``requested`` between steps."""

    def __init__(self):
        self.requested = False


@contextmanager
def deferred_interrupt() -> Iterator[StopRequest]:
    """Turn the first SIGINT or SIGTERM into a stop request; a second one interrupts at once.

    Signal handlers can only be installed from the main thread; elsewhere the signals keep their
    defaults.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after the current step to write a checkpoint "
              "(send it again to stop at once)", file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
