"""The names of the files adamnode keeps in its folders: here and nowhere else.

A run folder holds ``config.json`` (the settings and the description of the run), ``metrics.csv``
(a row per epoch), ``steps.csv`` (a row per logged window of steps), ``summary.json`` (how the run
ended) and ``checkpoint.pt`` (everything needed to resume). A comparison folder holds
``comparison.json``, one run folder per (model, seed) and the tables and plots drawn from them
(``results.csv``, ``results.md``). A precision study keeps ``precision.json`` and what is drawn
from it, a stability study its table and figure. Every folder holds adamnode's manifest and, while
a command writes there, its lock.
"""

# A run folder.
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
STEPS_FILE = "steps.csv"
SUMMARY_FILE = "summary.json"
CHECKPOINT_FILE = "checkpoint.pt"
#: The files a run writes into its folder (recorded in its manifest before they are first written).
RUN_FILES = (CONFIG_FILE, METRICS_FILE, STEPS_FILE, SUMMARY_FILE, CHECKPOINT_FILE)

# A comparison folder: its record, and the tables drawn from its runs.
COMPARISON_FILE = "comparison.json"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"

# A precision study's folder: the record, and what is drawn from it.
PRECISION_RECORD, PRECISION_CSV, PRECISION_MD = "precision.json", "precision.csv", "precision.md"
PRECISION_FIGURES = ("precision_grad_vs_nfe.png", "precision_grad_vs_time.png")

# A stability study's folder.
STABILITY_FILES = ("stability.csv", "stability.md", "stability.png")

# In every folder adamnode writes: what it wrote (the manifest) and who writes now (the lock).
MANIFEST_FILE = ".adamnode-files.json"
LOCK_FILE = ".adamnode.lock"

#: Every name above: the test of the store's rule looks for them elsewhere.
NAMES = (*RUN_FILES, COMPARISON_FILE, RESULTS_CSV, RESULTS_MD, PRECISION_RECORD, PRECISION_CSV, PRECISION_MD,
         *PRECISION_FIGURES, *STABILITY_FILES, MANIFEST_FILE, LOCK_FILE)
