"""Where figures and tables go: checked before any work, written whole."""

from __future__ import annotations

import os
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
    """Refuse, with the fix, a file that cannot be written: a folder, or in an unwritable one."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"{path} is a folder: name a file to write, e.g. {path / 'report.html'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{path}: cannot overwrite it; choose another file")
    check_output_folder(path.resolve().parent)


def png_bytes(figure, dpi: int = 120) -> bytes:
    """The figure as PNG, cropped to what is drawn; the figure is closed (pyplot keeps every
    open figure alive)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def save_figure(figure, path: Path, dpi: int = 120) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(figure, dpi))
    return path
