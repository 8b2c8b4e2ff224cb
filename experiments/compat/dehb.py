"""The one private name of DEHB the suite uses (tests/test_compat.py checks it against the
installed DEHB).

DEHB's own `run()` drops finished brackets after every result; its `tell` does not. Driven
through ask-and-tell, the suite's scheduler does the same after every `tell`, so that `ask`
opens new brackets where `run()` would, and the two run the same sequence of jobs
(tests/test_dehb_peer.py).
"""

from __future__ import annotations

PRIVATE_NAMES = [
    ("dehb.optimizers.dehb.DEHB", "_clean_inactive_brackets", "(self)"),
]


def drop_finished_brackets(optimizer) -> None:
    """Remove the brackets DEHB's bracket managers report done, as DEHB's `run()` does."""
    optimizer._clean_inactive_brackets()
