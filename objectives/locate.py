"""Finding what a flag names by where it lives: `package.module:attribute` or
`path/to/file.py:attribute`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from objectives.usage import UsageError


def import_attribute(spec: str, flag: str, error: type[UsageError] = UsageError) -> Any:
    """The attribute `spec` names, its module imported (a file by its path, a module as `python
    -m` would find it from the current folder); `error` naming `flag` when it cannot be found."""
    where, _, attribute = spec.rpartition(":")
    if not where or not attribute:
        raise error(f"{flag} {spec}: name it as package.module:attribute or path/to/file.py:attribute")
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise error(f"{flag} {spec}: no file {path}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules.setdefault(path.stem, module)
        module_spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise error(f"{flag} {spec}: cannot import {where} ({e}); run from the folder that "
                        f"holds it, or install it") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise error(f"{flag} {spec}: {where} has no attribute {attribute!r}") from None
