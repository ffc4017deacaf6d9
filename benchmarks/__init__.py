"""Benchmarks (``make bench``). Each ``bench_*.py`` module runs in its own process (so peak RSS
is its own) and prints its report; targets are ratios against a baseline measured in the same
run, never absolute times."""
