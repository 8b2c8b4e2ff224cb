"""The contract with upstream internals: every private name of Syne Tune, Ray or torch the suite
uses is listed in its compatibility module, exists in the installed version with the signature
the suite was written against, and appears nowhere else; and the layers import one way."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

COMPAT_MODULES = [
    "objectives.torch_compat",
    "experiments.compat.syne_tune",
    "experiments.compat.syne_tune_blackbox",
    "experiments.compat.syne_tune_searchers",
    "experiments.compat.syne_tune_botorch",
    "experiments.compat.dehb",
]


def private_names():
    for module_name in COMPAT_MODULES:
        module = importlib.import_module(module_name)
        for owner, name, signature in module.PRIVATE_NAMES:
            yield pytest.param(module_name, owner, name, signature, id=f"{owner.rsplit('.', 1)[-1]}.{name}")


def resolve(path: str):
    """`package.module.Class` or `package.module` -> the object."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(path)


def upstream_version(owner: str) -> str:
    package = importlib.import_module(owner.split(".")[0])
    return f"{package.__name__} {getattr(package, '__version__', '?')}"


@pytest.mark.parametrize("module_name,owner,name,signature", list(private_names()))
def test_private_name_exists_with_the_expected_signature(module_name, owner, name, signature):
    target = resolve(owner)
    where = f"{owner}.{name} (used by {module_name}; installed: {upstream_version(owner)})"
    if signature.startswith("attribute"):
        # set in the constructor: look for the assignment in the class's source
        sources = "".join(inspect.getsource(cls) for cls in inspect.getmro(target)
                          if cls.__module__.split(".")[0] == owner.split(".")[0])
        assert re.search(rf"self\.{name}\b\s*[:=]", sources), f"{where} is no longer set: the upstream changed"
        return
    assert hasattr(target, name), f"{where} no longer exists: the upstream changed; see {module_name}"
    actual = str(inspect.signature(getattr(target, name)))
    assert actual == signature, f"{where} changed signature: expected {signature}, found {actual}"


@pytest.mark.parametrize("module_name", COMPAT_MODULES)
def test_every_listed_name_is_used_by_its_module(module_name):
    source = Path(importlib.import_module(module_name).__file__).read_text()
    body = source.split("PRIVATE_NAMES", 1)[0] + source.split("PRIVATE_NAMES", 1)[1].split("]\n", 1)[1]
    for _, name, _ in importlib.import_module(module_name).PRIVATE_NAMES:
        assert name in body, f"{module_name} lists {name} but does not use it"


def python_files(*folders: str):
    for folder in folders:
        yield from (REPO / folder).rglob("*.py")


def test_private_upstream_names_appear_only_in_compat_modules():
    listed = {name for module_name in COMPAT_MODULES
              for _, name, _ in importlib.import_module(module_name).PRIVATE_NAMES}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(listed))) + r")\b")
    leaks = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in python_files("objectives", "analysis", "experiments")
             if not re.search("compat|upstream", str(path.relative_to(REPO)))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if pattern.search(line)]
    assert not leaks, "private upstream names outside the compat modules:\n" + "\n".join(leaks)


def test_layers_import_one_way():
    """objectives <- analysis <- experiments: objectives imports neither, analysis never
    imports experiments."""
    rule = {"objectives": ("analysis", "experiments"), "analysis": ("experiments",)}
    wrong = []
    for layer, forbidden in rule.items():
        for path in python_files(layer):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.match(rf"\s*(from|import) ({'|'.join(forbidden)})\b", line):
                    wrong.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_command_calls_another_commands_main():
    commands = [p.stem for p in (REPO / "experiments").glob("*.py") if p.stem != "__init__"]
    commands += [p.stem for p in (REPO / "analysis").glob("*.py") if "def main(" in p.read_text()]
    pattern = re.compile(rf"\b({'|'.join(commands)})\.main\(|from (experiments|analysis)\.({'|'.join(commands)}) import main")
    calls = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in python_files("objectives", "analysis", "experiments")
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if pattern.search(line)]
    assert not calls, "commands calling another command's main:\n" + "\n".join(calls)
