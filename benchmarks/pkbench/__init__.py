"""Benchmark-only helpers, kept out of the installed library: the scoring methods behind
``benchmarks/real_photos.py`` and ``match_pairs.py`` (:mod:`pkbench.realeval`) and
``benchmarks/real_scans.py`` (:mod:`pkbench.scaneval`).

A benchmark script run as ``python benchmarks/X.py`` or ``cd benchmarks && python X.py`` has
``benchmarks/`` first on ``sys.path`` (its own folder), so ``from pkbench import realeval``
works in both; the tests find it through pytest's ``pythonpath`` (pyproject.toml).
"""
