"""Benchmarks: Triton (perf_analyzer) against in-process baselines and the machine's compute ceiling."""
