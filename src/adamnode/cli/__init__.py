"""The ``adamnode`` command: one module per subcommand, each with ``add_arguments`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": "adamnode.cli.train",
    "compare": "adamnode.cli.compare",
    "report": "adamnode.cli.report",
    "info": "adamnode.cli.info",
    "stability": "adamnode.cli.stability",
}
