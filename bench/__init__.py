"""Benchmarks (never part of the test suite). Run all with ``python -m bench``."""
