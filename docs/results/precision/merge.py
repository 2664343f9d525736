"""Merge per-model precision studies (one ``adamnode precision --models M --out DIR/M`` each) into one folder.

    python docs/results/precision/merge.py OUT STUDY [STUDY ...]

Each study must have run with the same command apart from ``--models`` and ``--out``; the merged
``precision.json`` keeps the first study's settings, lists every study's command and sums their
times, then ``precision.csv``, ``precision.md`` and the diagrams are drawn from it as
``adamnode report OUT`` would.
"""

import json
import sys
from pathlib import Path

from adamnode.reports.precision import render_precision

out, studies = Path(sys.argv[1]), [Path(folder) for folder in sys.argv[2:]]
records = [json.loads((folder / "precision.json").read_text()) for folder in studies]
settings = dict(records[0]["settings"])
settings["command"] = " ; ".join(record["settings"]["command"] for record in records)
settings["study_seconds"] = round(sum(record["settings"]["study_seconds"] for record in records), 1)
settings["complete"] = all(record["settings"]["complete"] for record in records)
settings["models"] = [reference["model"] for record in records for reference in record["references"]]
settings.pop("arguments", None)  # each study's own; the merged one is not resumed
merged = {"references": [r for record in records for r in record["references"]],
          "rows": [r for record in records for r in record["rows"]], "settings": settings}
out.mkdir(parents=True, exist_ok=True)
(out / "precision.json").write_text(json.dumps(merged, indent=1) + "\n")
print(render_precision(out), end="")
