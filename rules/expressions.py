"""CEL conditions of the rule pack (``when`` guards and ``expr`` conditions), compiled once at load.

Binding: ``common-expression-language`` (``import cel``, Rust ``cel`` crate under PyO3). Measured
with ``bench/expr_bench.py`` against the pure Python ``cel-python`` and plain Python comparisons;
the numbers are in that file's docstring. CEL is only used for the optional guards and advanced
conditions; a rule's main comparison is a plain Python operator call (see ``rules.pack``).

Semantics, chosen so that a platform engineer gets no surprises:

- **Null is false.** A condition that references a null (or missing) signal is false, never an
  error: the referenced variables are checked for ``None`` before CEL runs (cheaper than letting
  CEL raise ``TypeError`` and catching it; a runtime error is caught as well and counts as false).
- **Numbers are doubles.** CEL does not convert between int and double (``x + 1`` fails when
  ``x`` is ``15.2``; comparisons across the two work). Every numeric signal is passed as a double
  and every integer literal of the expression is rewritten as a double (``3`` -> ``3.0``; not inside
  strings, not ``3u``, ``0x1F``, ``1e3`` or digits of names like ``logins_7d``), so
  ``days_since_last_login / 7 > 2`` works whether the signal is a count or a duration.
- **Checked at load.** Syntax errors, unknown signals, unknown functions, type errors
  (``subscription_status > 3``) and non-boolean results are reported by :func:`compile_condition`
  as ``ValueError`` with a one-line reason; it runs the program once on sample values to find
  the last three.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import cel

# CEL string and bytes literals (optionally raw/bytes-prefixed), single or triple quoted
_STRING = re.compile(r"""[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')""")
# a bare decimal integer literal: not part of a name, a double (1.5, 1e3), a uint (3u) or hex (0x1F)
_INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def as_doubles(source: str) -> str:
    """``source`` with every integer literal outside strings written as a double literal."""
    out: list[str] = []
    pos = 0
    for match in _STRING.finditer(source):
        out.append(_INT.sub(r"\1.0", source[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_INT.sub(r"\1.0", source[pos:]))
    return "".join(out)


class Signals(Protocol):
    """What a condition reads signals from: a dict, or the engine's view of its signal list."""

    def get(self, name: str, /) -> Any: ...


CACHE_SIZE = 4096  # per condition: results by the values of its signals (cleared when full)


@dataclass(frozen=True, slots=True)
class Guard:
    """A compiled CEL condition; ``holds(signals)`` is false when a referenced signal is null.

    CEL is pure, so results are memoised by the tuple of referenced values (guards such as
    ``logins_total >= 3`` see few distinct values): a hit costs a dict lookup, not a CEL call.
    """

    source: str  # as written in the pack
    signals: frozenset[str]  # the signals it references
    program: Any  # cel.Program
    names: tuple[str, ...] = ()  # ``signals`` in a fixed order (the hot loop)
    cache: dict[tuple[Any, ...], bool] = field(default_factory=dict, compare=False, repr=False)

    def holds(self, signals: Signals) -> bool:
        values = []
        for name in self.names:
            value = signals.get(name)
            if value is None:
                return False
            values.append(float(value) if type(value) is int else value)
        key = tuple(values)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            result = self.program.execute(dict(zip(self.names, values, strict=True))) is True
        except (TypeError, ValueError, RuntimeError, OverflowError):
            result = False
        if len(self.cache) >= CACHE_SIZE:
            self.cache.clear()
        self.cache[key] = result
        return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sample(kind: str) -> Any:
    return "active" if kind == "string" else 1.0


def compile_condition(source: str, known: Collection[str], types: Mapping[str, str] | None = None) -> Guard:
    """Compile ``source`` (a CEL boolean expression over the signals ``known``).

    ``types`` maps a signal to ``"number"`` or ``"string"`` (default number) for the trial run.
    Raises ValueError with a one-line reason for a syntax error, an unknown signal or function,
    a type error or a result that is not true/false.
    """
    try:
        program = cel.compile(as_doubles(source))
    except (ValueError, TypeError, RuntimeError) as exc:
        message = _first_line(exc)
        # "Failed to parse expression '...': ERROR: <input>:1:6: Syntax error: ..." -> the useful part
        if "ERROR: <input>:" in str(exc):
            detail = str(exc).split("ERROR: <input>:", 1)[1].splitlines()[0]
            pos, _, what = detail.partition(": ")
            what = what.split(" expecting {")[0]
            column = pos.split(":")[-1]
            message = f"{what} (column {column})" if column.isdigit() else detail
        raise ValueError(message) from None
    names = tuple(sorted(set(program.variables())))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown signal(s) {', '.join(unknown)} in {source!r}")
    kinds = types or {}
    sample = {n: _sample(kinds.get(n, "number")) for n in names}
    try:
        result = program.execute(sample)
    except RuntimeError as exc:
        raise ValueError(_first_line(exc)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        first = _first_line(exc).split(". ")[0]  # the binding adds a long paragraph of advice
        raise ValueError(f"type error: {first} (text, numbers and lists do not mix)") from None
    if not isinstance(result, bool):
        raise ValueError(f"must be true or false, but gives a {type(result).__name__}: {source!r}")
    return Guard(source, frozenset(names), program, names)
