"""Calls run side by side in processes of their own (``adamnode compare --jobs N``).

Each call gets a fresh interpreter (spawn: a fork would copy torch's thread pools mid-use). Its
result, or the exception it raised, comes back over a pipe; results arrive in the order the calls
finish. Stop signals: each child starts with SIGINT blocked and then leads a process group of its
own, so a terminal's Ctrl-C reaches the parent alone; the parent passes every stop signal on as a
SIGTERM, which a training child answers by stopping after its current step (a child still starting
simply ends). A child whose parent dies stops the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

from ..errors import ConfigError, Interrupted, RunError
from .interrupt import STOP_SIGNALS, tell


class ProcessLost(RunError):
    """A child process ended without sending a result (killed, or out of memory); ``how``: by which
    signal or with which exit code."""

    def __init__(self, how: str):
        super().__init__(f"its process died without a result ({how}); run it again with --resume")
        self.how = how

    def __reduce__(self):
        return ProcessLost, (self.how,)


class NotStarted(Interrupted):
    """The call was still waiting for a process when the stop came."""


def in_processes(function: Callable, calls: list[tuple], workers: int) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, outcome)`` for each ``function(*calls[index])``, at most ``workers`` at once.

    The outcome is the call's return value or the exception it raised: adamnode's own exceptions as
    they are, any other as a ``RunError`` naming it, ``ProcessLost`` if the process died first.
    After a stop signal, or a call that ends ``Interrupted`` (its process was sent one), no further
    call starts (the first not started yields ``NotStarted``) and those running are asked to stop
    and report. Closing the generator early asks the running ones to stop and
    waits for them.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    context = multiprocessing.get_context("spawn")
    waiting = list(enumerate(calls))
    running: dict[Any, tuple[int, Any]] = {}  # by the pipe end a result arrives on: (index, process)
    # A plain flag, not a threading.Event: a handler interrupting Event.set() could deadlock on its lock.
    stopping = [False]
    _quiet_resource_tracker()

    def stop(reason: str):
        first = not stopping[0]
        stopping[0] = True
        for _, process in running.values():
            _signal(process)
        if first and running:
            tell(f"{reason}: asking the {len(running)} running run(s) to stop after their current step")

    previous = {number: signal.signal(number, lambda signum, frame: stop(f"\n{signal.Signals(signum).name}"))
                for number in STOP_SIGNALS} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        while running or (waiting and not stopping[0]):
            while waiting and len(running) < workers and not stopping[0]:
                index, arguments = waiting.pop(0)
                receiver, process = _start(context, function, arguments)
                running[receiver] = (index, process)
                if stopping[0]:  # a signal that came while it started did not reach it
                    _signal(process)
            # A pipe end is ready when its result arrives or, its process gone, at end of file: waiting
            # on the processes instead would block a child whose result fills the pipe.
            for receiver in wait(list(running)):
                index, process = running.pop(receiver)
                outcome = _result_of_process(process, receiver, stopping[0])
                if isinstance(outcome, Interrupted) and not stopping[0]:
                    stop("a run was stopped")
                yield index, outcome
        if waiting:
            yield waiting[0][0], NotStarted("stopped before it started")
    finally:
        if running and not stopping[0]:
            # Their own SIGTERM message follows; without this line it would read as if someone sent one.
            tell(f"stopping the {len(running)} run(s) still going after their current step")
            for _, process in running.values():
                _signal(process)
        for receiver, (_, process) in running.items():
            receiver.close()
            process.join()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _start(context, function: Callable, arguments: tuple) -> tuple[Any, Any]:
    """A process started on ``function(*arguments)``, and the pipe end its outcome arrives on."""
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(function, arguments, sender), daemon=False)
    # Blocked, not ignored: here a Ctrl-C waits until the start is done and then stops us; the child
    # inherits the mask through exec, so one that reaches it before it leaves the terminal's process
    # group cannot kill it mid-import (``_child`` drops it).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    sender.close()
    return receiver, process


def _result_of_process(process, receiver, stopped: bool) -> Any:
    try:
        outcome = receiver.recv()
    except Exception:  # end of file, or a result that cannot be read back
        outcome = None
    finally:
        receiver.close()
    process.join()
    if outcome is not None:
        return outcome[1]
    code = process.exitcode
    # A stop signal that reached the process before training installed its handler ends it outright.
    if stopped or -code in STOP_SIGNALS:
        return Interrupted("stopped before it could report")
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return ProcessLost(how + (", out of memory?" if code == -signal.SIGKILL else ""))


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, if it is not running yet, without its warnings.

    A child killed outright (kill -9, out of memory) cannot release the semaphores it made (tqdm's
    lock is one in a spawned process). The tracker removes them once the comparison ends, and would
    print a multi-line "leaked semaphore objects" warning under adamnode's one-line message, which
    already says that the run's process died. The tracker is a process of its own that inherits
    our environment when it starts: the filter goes there, for its own message only.
    """
    if os.name != "posix":  # no tracker process elsewhere
        return
    from multiprocessing import resource_tracker

    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [previous, "ignore:resource_tracker:UserWarning"]))
    try:
        resource_tracker.ensure_running()
    finally:
        if previous is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = previous


def _signal(process) -> None:
    try:
        os.kill(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _child(function: Callable, arguments: tuple, sender) -> None:
    # Started with SIGINT blocked: discard one that came meanwhile (ignoring a pending signal drops
    # it), leave the terminal's process group, then take SIGINT as usual.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _stop_when_orphaned()
    try:
        outcome = ("returned", function(*arguments))
    except Exception as error:
        outcome = ("raised", _portable(error))
    except KeyboardInterrupt:  # the stop handler's answer to a second signal
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
    """adamnode's own exceptions as they are, their kind deciding what the parent does (one that
    cannot be pickled as a plain ``ConfigError`` or ``RunError`` with its text); any other as a
    ``RunError`` naming where it came from: re-raised in the parent it would pass for the parent's own."""
    if type(error).__module__.split(".")[0] == "adamnode":
        try:
            return pickle.loads(pickle.dumps(error))
        except Exception:
            return ConfigError(str(error)) if isinstance(error, ConfigError) else RunError(str(error))
    frames = traceback.extract_tb(error.__traceback__)
    place = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return RunError(f"unexpected {type(error).__name__} in its process{place}: {error} (report it)")
