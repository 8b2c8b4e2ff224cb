"""Atomic file writes: a reader (another trial, the analysis, a resumed run) never sees half a
file, and an interrupted write leaves the previous version in place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", public: bool = True) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; it replaces `path` only when the block
    ends without an exception. `public` makes it readable by everyone (mkstemp makes files
    private), as a file written in place would be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        if public:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)
