"""``python -m adamnode``: the same command as ``adamnode``."""

from .cli import main

raise SystemExit(main())
