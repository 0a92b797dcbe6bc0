"""Benchmarks for issue 7: one module per benchmark, each runnable on its own.

``python -m bench`` (``make bench``) runs them all and prints one table; see bench/README.md.
"""
