"""The README and docs/ as a reader meets them: every relative link and image resolves (to a file,
and with a #anchor to one of its headings), the README stays a short guide, and every command
shown in a bash block names a script or module that exists and flags its parser accepts.

Commands are parsed, never run: a module's `build_parser()` is called on the command's words;
a script without one (the launchers build theirs inside `launch`) is asked for `--help` once, and
each flag of the command must appear in that help text."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
MAX_README_LINES = 300
MAX_SKIPPED_COMMANDS = 3

FENCE = re.compile(r"^(```|~~~)")
# [text](target) and ![alt](target); the text may hold inline code, the target an optional title
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def split_fences(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The lines outside fenced code blocks, and each block as (info string, lines)."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            if block is None:
                block = (line.strip()[3:].strip(), [])
            else:
                blocks.append(block)
                block = None
        elif block is not None:
            block[1].append(line)
        else:
            prose.append(line)
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but '-', '_' and spaces),
    spaces turned into '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file, with GitHub's -1, -2 ... for repeated ones."""
    prose, _ = split_fences(path.read_text())
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    prose, _ = split_fences(path.read_text())
    return [m.group(1) for m in LINK.finditer("\n".join(prose))]


def test_the_docs_exist_and_each_starts_with_a_title_and_a_link_back_to_the_readme():
    names = {p.name for p in DOCS[1:]}
    assert {"reference.md", "ray.md", "reliability.md", "results.md"} <= names, names
    for path in DOCS[1:]:
        lines = path.read_text().splitlines()
        assert lines[0].startswith("# "), f"{path.name} does not start with a '# Title'"
        assert any("](../README.md" in line for line in lines[:8]), f"{path.name} has no link back to ../README.md"


def test_every_relative_link_and_image_resolves():
    broken = []
    checked = 0
    for path in DOCS:
        for target in links(path):
            if re.match(r"(https?://|mailto:)", target):
                continue
            checked += 1
            file_part, _, anchor = target.partition("#")
            where = path if not file_part else (path.parent / file_part).resolve()
            name = f"{path.relative_to(REPO)}: ({target})"
            if not where.exists():
                broken.append(f"{name}: no file {where}")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                broken.append(f"{name}: no heading in {where.relative_to(REPO)} has the anchor #{anchor}")
            elif anchor and where.suffix != ".md":
                broken.append(f"{name}: an anchor into a file that is not Markdown")
    assert checked > 20, f"only {checked} relative links found: is the link pattern still right?"
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_is_a_short_guide():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"
    headings = [line for line in lines if line.startswith("## ")]
    # tests/test_own_objective.py runs these sections
    assert {"## Tune your own model", "## Bring your Syne Tune script"} <= set(headings)


def commands() -> list[tuple[str, str]]:
    """(where, command line) for every line of a bash block that runs a repository command."""
    found = []
    for path in DOCS:
        _, blocks = split_fences(path.read_text())
        for info, lines in blocks:
            if info != "bash":
                continue
            for line in lines:
                if re.match(r"\s*python\s+(experiments/\S+\.py|-m\s+analysis\.)", line):
                    found.append((str(path.relative_to(REPO)), line.strip()))
    return found


def parser_of(module):
    """The module's `build_parser()`, where it has one that takes no arguments."""
    build = getattr(module, "build_parser", None)
    if build is None or getattr(build, "__module__", None) != module.__name__:
        return None
    if any(p.default is inspect.Parameter.empty for p in inspect.signature(build).parameters.values()):
        return None
    return build()


_help_texts: dict[str, str] = {}


def help_text(script: str) -> str:
    if script not in _help_texts:
        done = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"{script} --help failed:\n{done.stderr[-2000:]}"
        _help_texts[script] = done.stdout
    return _help_texts[script]


def problem_with(words: list[str]) -> str | None:
    """Why the command's words are not a valid call of an existing command, or None."""
    if words[1] == "-m":
        module_name, argv = words[2], words[3:]
        script = None
        if not (REPO / (module_name.replace(".", "/") + ".py")).is_file():
            return f"no module {module_name}"
    else:
        script, argv = words[1], words[2:]
        if not (REPO / script).is_file():
            return f"no script {script}"
        module_name = script[:-3].replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - the reader's command would fail the same way
        return f"cannot import {module_name}: {type(e).__name__}: {e}"
    parser = parser_of(module)
    if parser is None:  # no parser to import: the flags must appear in the script's --help
        text = help_text(script or module_name.replace(".", "/") + ".py")
        unknown = [w.split("=")[0] for w in argv
                   if re.match(r"--?[A-Za-z]", w) and w.split("=")[0] not in text]
        return f"flags not in its --help: {unknown}" if unknown else None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as e:
        if e.code:
            return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


def test_every_command_shown_names_an_existing_command_and_flags_it_accepts():
    shown = commands()
    assert len(shown) >= 15, f"only {len(shown)} commands found in bash blocks: {shown}"
    bad, skipped = [], []
    for where, line in shown:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            skipped.append(f"{where}: {line}")
            continue
        if any(re.search(r"<[^>]*>|\$\{?\w", w) for w in words):
            skipped.append(f"{where}: {line}")  # a placeholder stands where a value goes
            continue
        problem = problem_with(words)
        if problem:
            bad.append(f"{where}: {line}\n    {problem}")
    assert len(skipped) <= MAX_SKIPPED_COMMANDS, "too many commands with placeholders:\n" + "\n".join(skipped)
    assert not bad, "commands that would not parse:\n" + "\n".join(bad)


@pytest.mark.parametrize("line", ["python experiments/run_asha.py --no-such-flag",
                                  "python -m analysis.compare latest --no-such-flag",
                                  "python experiments/no_such_script.py"])
def test_a_bad_command_is_caught(line):
    assert problem_with(shlex.split(line)) is not None
