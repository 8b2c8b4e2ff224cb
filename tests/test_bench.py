"""experiments/bench.py's parts that run in seconds: the memory readers, the summaries of
repeated measurements, and the checking of its flags (the benchmark itself takes minutes)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from experiments import bench
from experiments.measurements.throughput import (
    WarmTreeSampler, added_per_trial, anon_pss_kb, describe, largest_private_mappings, paired_ratios,
    private_kb, pss_kb, smaps_rollup, spread,
)
from objectives.usage import UsageError
from tests.conftest import run_script

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"),
                                reason="needs Linux's /proc/PID/smaps_rollup")


def test_pss_of_this_process_is_positive_and_at_most_its_rss():
    totals = smaps_rollup(os.getpid())
    assert 0 < totals["Pss"] <= totals["Rss"]
    assert pss_kb(os.getpid()) > 0
    assert 0 < private_kb(totals) <= totals["Rss"]
    assert 0 < anon_pss_kb(totals) <= totals["Pss"]


def test_private_memory_of_a_new_allocation_shows_in_the_largest_mappings():
    before = private_kb(smaps_rollup(os.getpid()))
    block = bytearray(b"\x01") * (64 * 1024 * 1024)  # written, so every page is resident
    after = private_kb(smaps_rollup(os.getpid()))
    assert after - before > 60 * 1024
    largest = largest_private_mappings(os.getpid())
    assert largest[0]["private_mb"] >= 60 and largest[0]["mapping"] in ("[anon]", "[heap]")
    del block


def test_sampler_without_a_forkserver_takes_no_sample():
    # a process with no forkserver child (not this test process: an in-process warm run of an
    # earlier test may have left one here): nothing to sample, and no error
    childless = subprocess.Popen(["sleep", "5"])
    try:
        sampler = WarmTreeSampler(launcher_pid=childless.pid, period=0.05)
        with sampler:
            time.sleep(0.2)
    finally:
        childless.kill()
        childless.wait()
    assert sampler.samples == [] and sampler.with_trials(0) == []


def test_spread_and_paired_ratios():
    reference = [12.0, 14.0, 11.0]
    suite = [4.0, 3.5, 5.5]
    ratios = paired_ratios(reference, suite)
    assert ratios == [3.0, 4.0, 2.0]
    assert spread(ratios, 2) == {"median": 3.0, "min": 2.0, "max": 4.0, "repeats": 3}
    assert spread([1.0, 2.0, 3.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0, "repeats": 4}
    assert describe(spread(ratios, 2)) == "3 [2, 4] (3 repeats)"
    with pytest.raises(ValueError):
        paired_ratios([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        spread([])


def test_memory_added_per_trial():
    assert added_per_trial(1000.0, 2, 1100.0, 4) == 50.0


def test_backends_are_checked():
    assert bench.parse_backends("warm,python") == ["warm", "python"]
    for text in ("warm,pythn", "warm,,python", "warm,warm", "simulated"):
        with pytest.raises(UsageError, match="--backends"):
            bench.parse_backends(text)


def test_options_from_flags():
    parser = bench.build_parser()
    assert bench.check_options(parser.parse_args([])).budget_s == bench.DEFAULT_BUDGET_S
    assert bench.check_options(parser.parse_args(["--quick"])).budget_s == bench.QUICK_BUDGET_S
    assert bench.check_options(parser.parse_args(["--max-wallclock-time", "45"])).budget_s == 45
    assert bench.check_options(parser.parse_args(["--quick", "--max-wallclock-time", "50"])).budget_s == 50
    for flags in (["--max-wallclock-time", "0"], ["--repeats", "0"]):
        with pytest.raises(UsageError):
            bench.check_options(parser.parse_args(flags))
    for action in parser._actions:  # every flag a user sees explains itself
        if action.help != "==SUPPRESS==":
            assert action.help, action.option_strings


def test_a_mistyped_backend_exits_2_at_once_naming_the_fix():
    started = time.perf_counter()
    completed = run_script(["experiments/bench.py", "--backends", "warm,pythn", "--json"],
                           timeout=60, check=False)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "'pythn'" in lines[0] and "warm, python" in lines[0]
    assert time.perf_counter() - started < 20  # nothing was measured
