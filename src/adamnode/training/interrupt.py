"""Ctrl-C during training: finish the current step, checkpoint, then stop."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


class StopRequest:
    """Set by the first Ctrl-C; the loop polls ``requested`` between steps."""

    def __init__(self):
        self.requested = False


@contextmanager
def deferred_interrupt() -> Iterator[StopRequest]:
    """Turn the first SIGINT into a stop request; a second one interrupts at once as usual.

    Signal handlers can only be installed from the main thread; elsewhere Ctrl-C keeps its default.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        print("\nstopping after the current step to write a checkpoint (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
