"""Launchers and what they are built from.

The commands a user runs sit at the top of this folder (run_asha.py, compare.py, ...); the
library is in subpackages: `tuning` (plan, build, run, resume, compare), `schedulers`,
`backends` (how trials run) and `compat` (upstream internals, under a contract test).
"""
