"""Where figures and tables go: checked before any work, written whole."""

from __future__ import annotations

import tempfile
from pathlib import Path

from objectives.usage import UsageError


def check_output_folder(folder: Path) -> None:
    """Create the folder if needed and make sure a file can be written there; UsageError with
    the fix otherwise (permissions, a read-only file system, a file in the way...)."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UsageError(f"{folder}: cannot write there ({e.strerror or e}); choose a writable folder") from None


def check_output_file(path: Path) -> None:
    check_output_folder(Path(path).expanduser().parent)


def save_figure(figure, path: Path, dpi: int = 120) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path
