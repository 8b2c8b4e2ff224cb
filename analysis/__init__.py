"""Load experiments written by the launchers, summarise and plot them.

Usable from a notebook (`from analysis.summarize import summarize_experiment`) and from the
shell (`python -m analysis.summarize latest`).
"""
