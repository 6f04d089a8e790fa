"""churnwatch benchmarks: how fast, how much memory, against what.

Run everything with ``python -m bench run --size small|full`` (see ``python -m bench --help``).
Results go to ``bench/results/latest.json`` and ``bench/results/latest.md``.

This package is a benchmark harness, not part of the product: it imports the product
(``streams``, ``rules``, ``agents``) lazily, so each measurement whose code is missing is
reported as skipped instead of breaking the whole run.
"""

from __future__ import annotations
