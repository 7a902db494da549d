"""Benchmarks and side-by-side comparisons with distpy (not part of the installed package)."""
