"""One command line: every command explains every flag, the same concept has the same flag
everywhere, and what a command offers it accepts."""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys

import pytest

from experiments.schedulers import ASYNC_METHODS, MAIN_JOB, SYNC_DEFAULTS, SYNC_METHODS
from experiments.tuning.launch import build_parser as launcher_parser
from tests.conftest import REPO

MODULE_COMMANDS = [
    "experiments.compare", "experiments.run_ray_tune", "experiments.bench", "experiments.record_curves",
    "experiments.study", "experiments.scaling", "experiments.gpu_check", "experiments.replay_fidelity",
    "analysis.summarize", "analysis.plot_learning_curves", "analysis.list", "analysis.report",
    "analysis.compare",
]


def parsers():
    yield "run_asha.py", launcher_parser(ASYNC_METHODS, "ASHA", MAIN_JOB)
    yield "run_sync_sh.py", launcher_parser(SYNC_METHODS, "SH", SYNC_DEFAULTS)
    for name in MODULE_COMMANDS:
        yield name, importlib.import_module(name).build_parser()


ALL = list(parsers())


@pytest.mark.parametrize("name,parser", ALL, ids=[n for n, _ in ALL])
def test_every_flag_explains_itself(name, parser):
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"{name}: {action.option_strings or action.dest} has no help"


# concept -> the one flag that names it (a command either uses this name or lacks the concept)
SAME_NAME = {
    "budget in seconds": ("--max-wallclock-time", ("--budget", "--time-budget")),
    "results that end a run": ("--max-results", ("--max-evaluations", "--max-epochs-total")),
    "trials that end a run": ("--max-trials", ("--num-trials", "--max-num-trials")),
    "maximum resource": ("--max-resource", ("--max-t",)),
    "target of time to target": ("--target", ("--target-error",)),
    "folder of results": ("--results-dir", ("--results", "--dir")),
    "folder of figures and tables": ("--output-dir", ()),
}


@pytest.mark.parametrize("name,parser", ALL, ids=[n for n, _ in ALL])
def test_one_name_per_concept(name, parser):
    options = {o for action in parser._actions for o in action.option_strings}
    for concept, (flag, others) in SAME_NAME.items():
        assert not options & set(others), f"{name} names the {concept} {options & set(others)}, not {flag}"
    # -o is an output file wherever it exists (a folder is always --output-dir)
    for action in parser._actions:
        if "-o" in action.option_strings:
            assert "--output" in action.option_strings, f"{name}: -o is {action.option_strings}"


def test_ray_tune_offers_no_flag_it_ignores():
    options = {o for a in importlib.import_module("experiments.run_ray_tune").build_parser()._actions
               for o in a.option_strings}
    assert not options & {"--max-failures", "--startup-s", "--backend", "--resume"}


def test_the_main_job_is_what_run_asha_runs_without_flags_and_its_help_says_why(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["run_asha.py", "--help"])
    with pytest.raises(SystemExit) as done:  # the script itself, in this process
        runpy.run_path(str(REPO / "experiments" / "run_asha.py"), run_name="__main__")
    assert done.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert (f"(default {MAIN_JOB.method}, at grace period {MAIN_JOB.settings.grace_period} and reduction factor "
            f"{MAIN_JOB.settings.reduction_factor}: {' '.join(MAIN_JOB.why.split())})") in help_text
    args = launcher_parser(ASYNC_METHODS, "ASHA", MAIN_JOB).parse_args([])
    assert (args.method, args.grace_period, args.reduction_factor) == (
        MAIN_JOB.method, MAIN_JOB.settings.grace_period, MAIN_JOB.settings.reduction_factor)
