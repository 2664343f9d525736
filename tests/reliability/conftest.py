"""The reliability tests run the command as a user would, with the helpers of tests/cli."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))
