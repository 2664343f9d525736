"""The ``adamnode`` command: one module per subcommand, each with ``add_arguments`` and ``run``.

Only the chosen subcommand's module is imported, so ``adamnode --help`` stays fast and a missing
or broken optional subcommand never takes the others down.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Sequence

COMMANDS = {
    "train": "adamnode.cli.train",
    "compare": "adamnode.cli.compare",
    "report": "adamnode.cli.report",
    "info": "adamnode.cli.info",
    "stability": "adamnode.cli.stability",
    "precision": "adamnode.cli.precision",
}
SUMMARIES = {
    "train": "train one model on a task",
    "compare": "train several models over seeds and tabulate and plot the results",
    "report": "re-render the tables and plots of a run or comparison folder",
    "info": "list a task's models with their parameter counts",
    "stability": "the Silverbox initialisation test: whose state blows up untrained",
    "precision": "work-precision study: cost and gradient error of each model and solver path",
}
USAGE_ERROR, RUN_ERROR, INTERRUPTED = 2, 1, 130
#: Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
DEBUG_ENV = "ADAMNODE_DEBUG"


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line, pointing at ``--help``.

    Option names must be spelled out: argparse's prefix matching would take ``--epoch`` for
    ``--epochs`` here while a config file rejects the key, and a later option could change what a
    prefix means.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        fail(f"{message} (see {self.prog} --help)", USAGE_ERROR)


class CommandParser(OneLineParser):
    """A subcommand's parser: no text option or argument may be empty.

    ``--out ""`` or ``--resume ""`` would otherwise read as "not given" (or as the current folder)
    and silently do something else than asked.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("type", None, nonempty)


def nonempty(value: str) -> str:
    """argparse type of text options: the value as given, unless it is empty."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty (an empty value does not stand for the default)")
    return value


def fail(message: str, status: int):
    print(f"adamnode: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(status)


def available_commands() -> list[str]:
    return [name for name, module in COMMANDS.items() if importlib.util.find_spec(module) is not None]


def build_parser(chosen: str | None) -> OneLineParser:
    """The parser; only ``chosen``'s module is imported to add its arguments."""
    from .. import __version__

    parser = OneLineParser(prog="adamnode", description="Momentum and adaptive-moment neural ODEs: train, compare, report.")
    parser.add_argument("--version", action="version", version=f"adamnode {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    subparsers.required = True
    for name in available_commands():
        sub = subparsers.add_parser(name, help=SUMMARIES.get(name, ""), description=SUMMARIES.get(name))
        if name == chosen:
            module = _load(name)
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    return parser


def _load(name: str):
    try:
        return importlib.import_module(COMMANDS[name])
    except ImportError as error:
        fail(f"the {name} command cannot be loaded ({error}); reinstall adamnode", RUN_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((word for word in argv if not word.startswith("-")), None)
    try:  # the chosen command's module imports torch: seconds in which a Ctrl-C is likely
        parser = build_parser(chosen if chosen in COMMANDS else None)
    except KeyboardInterrupt:
        fail("interrupted", INTERRUPTED)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        fail(f"unrecognized arguments: {' '.join(unknown)} (see adamnode {args.command} --help)", USAGE_ERROR)
    try:
        return int(args.handler(args) or 0)
    except SystemExit:
        raise
    except BaseException as error:  # every failure ends in one line; ADAMNODE_DEBUG=1 shows tracebacks
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        fail(*_describe(error))


def exit_statuses() -> tuple[tuple[type[BaseException], int], ...]:
    """(error class, exit status), the first class the error is an instance of decides: subclasses come
    before their bases. An error of no class here is unexpected (a bug, or torch's): status 1."""
    from ..errors import ConfigError, DataError, Interrupted, RunError, SolverError

    return ((KeyboardInterrupt, INTERRUPTED), (Interrupted, INTERRUPTED), (ConfigError, USAGE_ERROR),
            (DataError, USAGE_ERROR), (RunError, RUN_ERROR), (SolverError, RUN_ERROR), (OSError, RUN_ERROR))


def _describe(error: BaseException) -> tuple[str, int]:
    """The one line and exit status of ``error``: its message with the flags of the keywords it
    names appended (``flags.with_flags``), by its class alone."""
    if isinstance(error, KeyboardInterrupt):  # before the imports below, which it may have cut short
        return "interrupted", INTERRUPTED
    status = next((status for kind, status in exit_statuses() if isinstance(error, kind)), None)
    if status is None:
        return (f"unexpected {type(error).__name__}: {error} (set {DEBUG_ENV}=1 for the traceback and report it)",
                RUN_ERROR)
    if status == INTERRUPTED:
        return str(error), INTERRUPTED
    from .flags import with_flags

    return with_flags(str(error)), status
