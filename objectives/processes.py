"""What the processes of a trial share about their lifetime."""

from __future__ import annotations

import signal


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so that nothing a trial started
    outlives a trial (or a launcher) that was killed outright."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the launcher's clean-up still stops trials
        pass
