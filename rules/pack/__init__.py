"""The rule pack: a YAML file of weighted, explainable rules and the tier thresholds.

Format (version 1; ``rules/packs/default.yaml`` is the commented example, ``rules/packs/README.md``
the reference)::

    version: 1
    tiers: {watch: 25, at_risk: 50, critical: 75}     # lower bounds, increasing
    rules:
      - id: login_inactivity
        weight: 35                                    # 0..100
        signal: days_since_last_login                 # the comparison that fires the rule...
        op: ">="                                      # >= > <= < == != in not_in
        threshold: 14
        when: "logins_total >= 3"                     # optional CEL guard
        reason: "no login for {value} days (threshold {threshold})"

A rule fires when its comparison holds (with ``any:``, a list of comparisons, the first that
holds is the one reported) and its optional ``when`` guard is true. An advanced rule gives a full
CEL condition as ``expr:`` and still names the ``signal`` and ``threshold`` its alert shows.
A comparison or condition over a null signal is false.

Speed (``compiled``): comparisons are precompiled to ``functools.partial(operator.X, threshold)`` calls
and run as plain Python; CEL (compiled once at load, see ``rules.expressions``) runs only for ``expr``
rules and for a ``when`` guard after its comparison already holds.

The package, one job per module:

- ``model``: the parts (``Comparison``, ``Graded``, ``Rule``, ``RuleHit``, ``Evaluation``,
  ``Problem``, ``PackError``) and how a value reads in a reason sentence;
- ``compiled``: ``RulePack``, the evaluation hot path (a generated function per pack);
- ``validate``, ``yaml_nodes``: YAML nodes to rules and tiers, every problem with its line;
- ``parse``: ``parse_pack(text, file)`` -> ``(pack or None, problems)``, pure.

Reading the file is the doors' job: ``agents.pack_file.load_pack(path)`` returns a
:class:`RulePack` or raises :class:`PackError`; ``check_pack(path)`` returns every
:class:`Problem` sorted by line. (``rules.pack.load_pack``/``check_pack`` still resolve to them,
for callers written before the split.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rules.pack.compiled import RulePack
from rules.pack.model import (
    DEFAULT_REASON,
    KNOWN_SIGNALS,
    LIST_OPS,
    OPS,
    PACK_VERSION,
    SIGNAL_VALUES,
    Comparison,
    Evaluation,
    Graded,
    PackError,
    Problem,
    Rule,
    RuleHit,
)
from rules.pack.parse import parse_pack

# the shipped pack (package data; read by the doors)
DEFAULT_PACK = Path(__file__).resolve().parent.parent / "packs" / "default.yaml"

__all__ = [
    "DEFAULT_PACK",
    "DEFAULT_REASON",
    "KNOWN_SIGNALS",
    "LIST_OPS",
    "OPS",
    "PACK_VERSION",
    "SIGNAL_VALUES",
    "Comparison",
    "Evaluation",
    "Graded",
    "PackError",
    "Problem",
    "Rule",
    "RuleHit",
    "RulePack",
    "parse_pack",
]


def __getattr__(name: str) -> Any:
    """``load_pack`` and ``check_pack`` read files, so they live in the doors (``agents.pack_file``)."""
    if name in ("load_pack", "check_pack"):
        from agents import pack_file

        return getattr(pack_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
