"""Calls run side by side in processes of their own (``adamnode compare --jobs N``).

Each call gets a fresh interpreter (spawn: a fork would copy torch's thread pools mid-use). Its
result, or the exception it raised, comes back over a pipe; results arrive in the order the calls
finish. A stop signal (Ctrl-C, SIGTERM) reaches the parent alone, because each child leads a
process group of its own, and the parent passes it on exactly once: a second copy of the signal
would make a child stop at once instead of after its current step. A child whose parent dies stops
the same way, after its step, with a checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

from .errors import Interrupted, RunError
from .interrupt import STOP_SIGNALS


class ProcessLost(RunError):
    """A child process ended without sending a result (killed, or out of memory)."""


def in_processes(function: Callable, calls: list[tuple], workers: int) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, outcome)`` for each ``function(*calls[index])``, at most ``workers`` at once.

    The outcome is the call's return value or the exception it raised (``ProcessLost`` if its
    process died first). After a stop signal no further call starts; those running are asked to
    stop. Closing the generator early asks the running ones to stop and waits for them.
    """
    context = multiprocessing.get_context("spawn")
    waiting = list(enumerate(calls))
    running: dict[Any, tuple[int, Any]] = {}  # by the pipe end a result arrives on: (index, process)
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            print(f"\n{signal.Signals(signum).name}: asking the {len(running)} running run(s) to stop after their "
                  "current step", file=sys.stderr, flush=True)
        stopping.set()
        for _, process in running.values():
            _signal(process, signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        while running or (waiting and not stopping.is_set()):
            while waiting and len(running) < workers and not stopping.is_set():
                index, arguments = waiting.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(function, arguments, sender), daemon=False)
                process.start()
                sender.close()
                running[receiver] = (index, process)
            # A pipe end is ready when its result arrives or, its process gone, at end of file: waiting
            # on the processes instead would block a child whose result fills the pipe.
            for receiver in wait(list(running)):
                index, process = running.pop(receiver)
                yield index, _outcome(process, receiver, stopping.is_set())
    finally:
        if not stopping.is_set():  # those already asked would take a second request as "stop at once"
            for _, process in running.values():
                _signal(process, signal.SIGTERM)
        for receiver, (_, process) in running.items():
            receiver.close()
            process.join()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _outcome(process, receiver, stopped: bool) -> Any:
    try:
        outcome = receiver.recv()
    except (EOFError, OSError):
        outcome = None
    finally:
        receiver.close()
    process.join()
    if outcome is None and stopped:  # signalled before its handlers were in place
        return Interrupted("stopped before it began training")
    if outcome is None:
        return ProcessLost(f"its process ended without a result (exit code {process.exitcode}); "
                           "run it again with --resume")
    return outcome[1]


def _signal(process, signum: int) -> None:
    try:
        os.kill(process.pid, signum)
    except (ProcessLookupError, TypeError):
        pass  # already gone, or not started yet


def _child(function: Callable, arguments: tuple, sender) -> None:
    os.setpgrp()
    _stop_when_orphaned()
    try:
        outcome = ("returned", function(*arguments))
    except Exception as error:  # every kind travels back to be handled by the parent as it would be here
        outcome = ("raised", _portable(error))
    except KeyboardInterrupt:  # a second stop signal
        outcome = ("raised", Interrupted("stopped at once by a second signal; it resumes from its last checkpoint"))
    try:
        sender.send(outcome)
    except OSError:
        pass  # the parent is gone; the run's own files (summary.json) say how it ended
    sender.close()


def _stop_when_orphaned() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def _portable(error: Exception) -> Exception:
    """``error`` if it survives pickling as it is, else a ``RuntimeError`` with its text."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
