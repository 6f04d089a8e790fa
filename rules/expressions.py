"""CEL guards of the rule pack, compiled once with ``common-expression-language``.

A guard that references a null (or missing) signal is false, never an error. Measured on this
machine: about 0.5 µs per evaluation (the Rust-backed binding) against about 100 µs for the pure
Python ``cel-python``; plain Python comparisons cost about 0.06 µs, which is why the rules' main
comparisons are not CEL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import cel


@dataclass(frozen=True, slots=True)
class Guard:
    source: str
    signals: frozenset[str]
    program: Any

    def holds(self, signals: Mapping[str, Any]) -> bool:
        context = {}
        for name in self.signals:
            value = signals.get(name)
            if value is None:
                return False
            context[name] = value
        try:
            return self.program.execute(context) is True
        except (TypeError, ValueError, RuntimeError):
            return False


def compile_guard(source: str, known: Collection[str]) -> Guard:
    """Compile ``source``; raises ValueError for a syntax error or an unknown signal."""
    try:
        program = cel.compile(source)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    names = set(program.variables())
    unknown = sorted(names - set(known))
    if unknown:
        raise ValueError(f"unknown signal(s) {', '.join(unknown)} in {source!r}")
    return Guard(source, frozenset(names), program)
