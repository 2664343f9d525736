"""The studies behind docs/results: analyses of comparison folders and of the ledgers they leave.

Each study is a module run as ``python -m adamnode.studies.<name>`` (``--help`` says how); docs/results
keeps their data (ledgers, tables, plots) and the READMEs whose commands call them. The statistics
(``intervals``) and the ledgers' strict reader and writer (``ledger``) serve them all.

- ``claims``: the paper's claims (lowest loss, fewer evaluations) judged over seeds, with intervals;
- ``anchors``: our runs at the paper's settings beside the reference code's figures;
- ``rates``: AdamNODE's (beta1, beta2), learned or fixed, and how far its state moves;
- ``rates_sequence``: the same rates on a sequence task (F-16);
- ``precision``: the work-precision study behind ``adamnode precision`` (its measurement, record and
  plots), and ``precision.merge``, ``precision.ratios``, ``precision.kinks``: per-model studies merged;
  cost ratios of paths; the references' own error with tanh or ReLU in f;
- ``regularisers``: the regulariser comparison's table and evaluation curves;
- ``walker2d_baselines``: persistence and training-mean errors on walker2d, for scale.
"""

STUDIES = ("claims", "anchors", "rates", "rates_sequence", "precision.merge", "precision.ratios", "precision.kinks",
           "regularisers", "walker2d_baselines")
