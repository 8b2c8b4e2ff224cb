"""Which precision the training loop computes in: $HPO_PRECISION, `fp32` or `bf16`, or unset for
the hardware's choice (objectives/training.py decides). Kept apart from the training loop so
that a launcher checks the setting before anything starts without importing torch."""

from __future__ import annotations

import os

PRECISION_ENV = "HPO_PRECISION"
PRECISIONS = ("fp32", "bf16")


def forced_precision() -> str | None:
    """The precision $HPO_PRECISION asks for, or None where it is unset; ValueError naming the
    fix for any other value."""
    forced = os.environ.get(PRECISION_ENV)
    if not forced:
        return None
    if forced not in PRECISIONS:
        raise ValueError(f"${PRECISION_ENV}={forced}: use fp32 or bf16, or leave it unset")
    return forced
