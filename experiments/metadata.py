"""Read and update an experiment's `metadata.json` (atomically: analysis may read it meanwhile)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

METADATA_FILE = "metadata.json"


def update_metadata(experiment_dir: Path, **entries) -> None:
    path = Path(experiment_dir) / METADATA_FILE
    metadata = json.loads(path.read_text()) if path.exists() else {}
    metadata.update(entries)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(metadata, f, indent=1, default=str)
    os.replace(tmp, path)
