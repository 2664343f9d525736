"""The work-precision study: what a training step costs and how exact its gradient is, per model and
solver path (``adamnode precision``).

- ``measure``: the variants (solver paths and tolerances), one measured step, the float64 reference;
- ``study``: the study over models, pretraining and fixed batches;
- ``record``: the study's record (``precision.json``) and the tables drawn from it; ``plots``: its diagrams;
- ``merge``, ``ratios``, ``kinks``: per-model studies merged into one; cost ratios of paths at equal
  gradient error; the references' own error with tanh or ReLU in f (``python -m adamnode.studies.precision.<name>``).
"""
