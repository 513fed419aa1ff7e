"""Parley's benchmarks: `python -m bench` (what `make bench` runs) rewrites BENCHMARKS.md."""
