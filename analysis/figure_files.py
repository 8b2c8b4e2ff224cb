"""Where figures go: checked before any work, written whole."""

from __future__ import annotations

import os
from pathlib import Path

from objectives.usage import UsageError


def check_output_folder(folder: Path) -> None:
    """Refuse, with the fix, a folder that cannot be created or written."""
    probe = Path(folder).expanduser().resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{folder}: cannot write there; choose a writable folder")


def check_output_file(path: Path) -> None:
    check_output_folder(Path(path).expanduser().resolve().parent)


def save_figure(figure, path: Path, dpi: int = 120) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path
