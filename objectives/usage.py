"""Bad input and how every command reports it: one line naming the problem and the fix, exit
code 2, nothing half-written.

Library code raises `UsageError` (or a subclass: a missing data set, an experiment not found,
a cluster that does not answer); only the command layer turns it into an exit code, through
`run_command`. Code that calls a library function gets the exception, never a `SystemExit`.
"""

from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")

USAGE_EXIT_CODE = 2  # as argparse exits on a bad flag


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


def run_command(main: Callable[[], T]) -> T:
    """Run a command's body; a UsageError becomes `error: MESSAGE` on stderr and exit code 2."""
    try:
        return main()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USAGE_EXIT_CODE)
