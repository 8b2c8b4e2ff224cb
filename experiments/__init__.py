"""Launchers and schedulers: build a Syne Tune tuner for an objective and run it."""
