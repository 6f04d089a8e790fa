"""A rule pack's parts: comparisons, graded weights, rules, firing-rule hits, evaluations,
problems, and how a value reads in a reason sentence. No YAML, no evaluation loop here."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from rules.expressions import Guard
from rules.records import round_places
from rules.signals import SIGNAL_NAMES

PACK_VERSION = 1

# the signals a pack may use (rules/signals.py computes each; contract section 4 plus
# logins_total, orders_total and sentiment_count_30d)
KNOWN_SIGNALS: frozenset[str] = SIGNAL_NAMES
# the values a string signal can take (a threshold outside these is a typo)
SIGNAL_VALUES: dict[str, frozenset[str]] = {
    "subscription_status": frozenset({"none", "active", "paused", "downgraded", "cancelled"}),
}

# ``value OP threshold`` as ``fn(threshold, value)``, so that a test is ``partial(fn, threshold)(value)``
_FLIPPED: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.le,
    ">": operator.lt,
    "<=": operator.ge,
    "<": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
OPS: tuple[str, ...] = (*_FLIPPED, "in", "not_in")
LIST_OPS = frozenset({"in", "not_in"})

RULE_KEYS = frozenset(
    {"id", "weight", "signal", "op", "threshold", "any", "when", "expr", "reason", "description", "graded"}
)
GRADED_KEYS = frozenset({"full_at", "step", "min_weight"})
GRADED_OPS = frozenset({">=", ">", "<=", "<"})
COMPARISON_KEYS = frozenset({"signal", "op", "threshold"})
TOP_KEYS = frozenset({"version", "tiers", "rules", "description"})
REASON_FIELDS = frozenset({"value", "threshold", "signal", "rule", "weight"})
RULE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
DEFAULT_REASON = "{signal} is {value} (threshold {threshold})"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class PackError(ValueError):
    """A rule pack with problems; ``problems`` lists each with file, line and reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("invalid rule pack:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


def _make_test(op: str, threshold: Any) -> Callable[[Any], bool]:
    if op == "in":
        return partial(operator.contains, frozenset(threshold))
    if op == "not_in":
        options = frozenset(threshold)
        return lambda value: value not in options
    return partial(_FLIPPED[op], threshold)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``signal op threshold``; ``test(value)`` is that comparison for a non-null value."""

    signal: str
    op: str
    threshold: Any
    test: Callable[[Any], bool] = field(compare=False, repr=False)

    @classmethod
    def of(cls, signal: str, op: str, threshold: Any) -> Comparison:
        return cls(signal, op, threshold, _make_test(op, threshold))

    def __str__(self) -> str:
        shown = f"[{_fmt(self.threshold)}]" if isinstance(self.threshold, list) else _fmt(self.threshold)
        return f"{self.signal} {self.op} {shown}"


@dataclass(frozen=True, slots=True)
class Graded:
    """A graded rule's weight grows with how far its signal is past the threshold: ``min_weight``
    at the threshold, the rule's full ``weight`` at ``full_at`` and beyond, linearly in between by
    whole ``step``s (so the weight changes only when the signal crosses a step, which the due-time
    index can foresee)."""

    threshold: float
    full_at: float
    step: float
    min_weight: float
    weight: float

    def weight_at(self, value: float) -> float:
        span = abs(self.full_at - self.threshold)
        steps = math.floor(abs(value - self.threshold) / self.step + 1e-9)
        share = min(steps * self.step / span, 1.0)
        return round_places(self.min_weight + (self.weight - self.min_weight) * share, 2)

    def grid(self) -> tuple[float, float, float]:
        """(threshold, full_at, step): the values at which the weight changes."""
        return self.threshold, self.full_at, self.step


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. ``guard`` is the CEL part checked after a comparison holds: the ``when`` guard;
    for an ``expr`` rule (no comparisons) the whole condition, ``expr`` and ``when`` together.
    ``explain`` names the signal and threshold an ``expr`` rule's alert shows."""

    id: str
    weight: float
    comparisons: tuple[Comparison, ...]
    guard: Guard | None
    reason: str
    line: int = 0
    when: str | None = None
    expr: str | None = None
    explain: Comparison | None = None
    description: str = ""
    graded: Graded | None = None

    @property
    def signals(self) -> frozenset[str]:
        used = {c.signal for c in self.comparisons}
        if self.guard is not None:
            used |= self.guard.signals
        if self.explain is not None:
            used.add(self.explain.signal)
        return frozenset(used)

    def describe(self) -> str:
        """The condition in one line, as ``rules check`` prints it."""
        text = f"expr {self.expr}" if self.expr is not None else " or ".join(str(c) for c in self.comparisons)
        if self.graded is not None:
            g = self.graded
            text += f" (graded: {_fmt(g.min_weight)} at {_fmt(g.threshold)} to {_fmt(g.weight)} at {_fmt(g.full_at)})"
        return f"{text} when {self.when}" if self.when else text


class RuleHit:
    """One firing rule, as an alert explains it: rule, weight, signal, value, threshold, reason.

    The reason sentence is formatted on first access (most evaluations are never published).
    """

    __slots__ = ("_reason", "_template", "rule", "signal", "threshold", "value", "weight")

    def __init__(
        self,
        rule: str,
        weight: float,
        signal: str,
        value: Any,
        threshold: Any,
        reason: str | None = None,
        template: str = DEFAULT_REASON,
    ) -> None:
        self.rule = rule
        self.weight = weight
        self.signal = signal
        self.value = value
        self.threshold = threshold
        self._reason = reason
        self._template = template

    @property
    def reason(self) -> str:
        if self._reason is None:
            self._reason = _reason(self._template, self)
        return self._reason

    def _key(self) -> tuple[Any, ...]:
        return (self.rule, self.weight, self.signal, self.value, self.threshold, self.reason)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleHit) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "RuleHit(" + ", ".join(f"{k}={v!r}" for k, v in zip(_HIT_FIELDS, self._key(), strict=True)) + ")"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "weight": int(self.weight) if float(self.weight).is_integer() else self.weight,
            "signal": self.signal,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
        }


_HIT_FIELDS = ("rule", "weight", "signal", "value", "threshold", "reason")


_set: Final = object.__setattr__  # how a frozen dataclass's __init__ sets its fields
NATIVE: Final = not __file__.endswith((".py", ".pyc"))  # this module runs compiled (see streams.events)


@dataclass(frozen=True, slots=True, init=False)
class Evaluation:
    """``score`` is the risk score rounded to one decimal; ``tier`` is the tier of that rounded
    score (so a reader never sees 25.0 labelled healthy); ``hits`` are the firing rules in pack
    order (a tuple: an evaluation is immutable, and the no-hit evaluation is shared). Its own
    ``__init__`` sets the fields as the generated one would: native code when compiled."""

    score: float
    tier: str
    hits: tuple[RuleHit, ...]

    def __init__(self, score: float, tier: str, hits: tuple[RuleHit, ...]) -> None:
        if NATIVE:  # compiled: a store into the native object (object.__setattr__ is a generic call)
            self.score = score  # type: ignore[misc]
            self.tier = tier  # type: ignore[misc]
            self.hits = hits  # type: ignore[misc]
            return
        _set(self, "score", score)
        _set(self, "tier", tier)
        _set(self, "hits", hits)


def _fmt(value: Any) -> str:
    """A value in a reason sentence: at most two decimals, no trailing zeros (15.2, 14, 0.25)."""
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, list | tuple | frozenset | set):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _hit(rule: Rule, comp: Comparison, value: Any) -> RuleHit:
    return RuleHit(rule.id, rule.weight, comp.signal, value, comp.threshold, None, rule.reason)


def _reason(template: str, hit: RuleHit) -> str:
    try:
        return template.format(
            value=_fmt(hit.value),
            threshold=_fmt(hit.threshold),
            signal=hit.signal,
            rule=hit.rule,
            weight=_fmt(hit.weight),
        )
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


# --- loading and validation -------------------------------------------------------------
