"""Measurements behind the benchmark commands (bench.py, gpu_check.py)."""
