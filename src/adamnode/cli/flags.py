"""The library's words for settings, mapped to this command line's flags.

The library (solve, models) names ``SolverOptions`` keywords and training concepts in its messages,
never flags; a message that reaches the command line gets the flags of the words it uses appended,
so a CLI user reads ``--step-budget`` where a Python user reads ``step_budget``.
"""

from __future__ import annotations

import re

#: (a word or phrase of library messages, the flag that sets it), in the order shown.
FLAGS = (
    ("method", "--method"),
    ("rtol", "--tol"),
    ("atol", "--tol"),
    ("step_size", "--step-size"),
    ("step_budget", "--step-budget"),
    ("gradient", "--gradient"),
    ("checkpoint_every", "--checkpoint-every"),
    ("seminorm", "--no-seminorm"),
    ("warm_start", "--warm-start"),
    ("kinetic", "--kinetic"),
    ("jacobian", "--jacobian"),
    ("steer", "--steer"),
    ("learning rate", "--lr"),
    ("clip gradients", "--grad-clip"),
)
_PATTERNS = [(re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w])"), word, flag) for word, flag in FLAGS]


def with_flags(message: str) -> str:
    """``message`` with the flags of the library words it names appended (unchanged if it names none)."""
    named: dict[str, list[str]] = {}
    for pattern, word, flag in _PATTERNS:
        if pattern.search(message):
            named.setdefault(flag, []).append(word)
    if not named:
        return message
    pairs = ", ".join(f"{'/'.join(words)}: {flag}" for flag, words in named.items())
    return f"{message} [command line: {pairs}]"
