"""The rule pack's loop for the compiled core (mypyc), over the engine's signal list.

``RulePack.evaluate_values`` reads the signals from a list in ``rules.signals.SLOTS`` order (the
engine's frame, by position: no dict per evaluation); a list that ends before a slot (the engine's
without a model: the frame's part only) has that signal null. Compiled, :func:`evaluate_steps` is
that evaluation: the reference loop (``RulePack._evaluate``), with each numeric comparison a
comparison of two doubles; run as Python, the generated function of ``rules.pack.compiled`` is the faster one.
A ``when`` guard (CEL, ``rules.expressions``) reads the signals it names through a
:class:`FrameView`, made only when a guard runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rules.expressions import Guard, Signals
from rules.pack.model import Comparison, Rule, RuleHit, _hit
from rules.signals import SLOT

_EXACT: Final = 2**53  # ints up to this are exact doubles: compared as doubles, they compare as ints
_OPCODES: Final = {">=": 0, ">": 1, "<=": 2, "<": 3, "==": 4, "!=": 5}
# a text value against a text threshold (== !=) or a list of options (in, not_in): compared natively
_TEXT_EQ: Final = 1
_TEXT_NE: Final = 2
_TEXT_IN: Final = 3
_TEXT_NOT_IN: Final = 4


class FrameView:
    """The signals of a list in ``SLOTS`` order, read by name (what a guard reads)."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def get(self, name: str, default: Any = None) -> Any:
        i = SLOT.get(name)
        if i is None:
            return default
        return self.values[i] if i < len(self.values) else None  # (a list without the model's part)


class NativeCheck:
    """One comparison of a rule: ``holds(value)`` is ``value op threshold`` for a non-null value
    (False when the two do not compare, as in ``RulePack._evaluate``): two doubles compared when
    both are numbers a double holds exactly, two strings (or a string and the options of ``in``
    and ``not_in``, as the test's frozenset holds them) when the value is text, else the
    comparison's own test."""

    __slots__ = ("number", "op", "options", "signal", "slot", "test", "text", "text_op", "threshold")

    def __init__(self, comp: Comparison) -> None:
        self.signal = comp.signal
        self.slot = SLOT.get(comp.signal, -1)  # -1: not a signal the engine computes (always null)
        self.threshold = comp.threshold
        self.test = comp.test
        th = comp.threshold
        numeric = isinstance(th, float) or (isinstance(th, int) and not isinstance(th, bool) and abs(th) <= _EXACT)
        self.op = _OPCODES.get(comp.op, -1) if numeric else -1
        self.number = float(th) if numeric else 0.0
        self.text = th if isinstance(th, str) else ""
        self.options: frozenset[Any] = frozenset()
        self.text_op = 0
        if isinstance(th, str) and comp.op in ("==", "!="):
            self.text_op = _TEXT_EQ if comp.op == "==" else _TEXT_NE
        elif comp.op in ("in", "not_in") and isinstance(th, list | tuple | set | frozenset):
            self.options = frozenset(th)  # as rules.pack.model's test holds them
            self.text_op = _TEXT_IN if comp.op == "in" else _TEXT_NOT_IN

    def holds(self, value: Any) -> bool:
        op = self.op
        x = 0.0
        if op < 0:
            text_op = self.text_op
            if text_op and isinstance(value, str):
                if text_op == _TEXT_EQ:
                    return value == self.text
                if text_op == _TEXT_NE:
                    return value != self.text
                return (value in self.options) == (text_op == _TEXT_IN)
            return self._test(value)
        if isinstance(value, float):
            x = value
        elif isinstance(value, int) and -_EXACT <= value <= _EXACT:
            x = float(value)
        else:
            return self._test(value)
        return compare(op, x, self.number)

    def _test(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:  # a value of the wrong type: the comparison does not hold
            return False


class NativeRule:
    """One rule for :func:`evaluate_steps`: its checks, guard, graded weight and kept share."""

    __slots__ = ("cache", "checks", "explain", "graded", "guard", "keep", "rule", "single", "slots")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.checks = [NativeCheck(c) for c in rule.comparisons]
        self.guard: Guard | None = rule.guard
        # the guard's own cache (cleared when full, never replaced), read here as a native attribute
        self.cache: dict[tuple[Any, ...], bool] = rule.guard.cache if rule.guard is not None else {}
        self.slots = [SLOT.get(name, -1) for name in rule.guard.names] if rule.guard is not None else []
        self.graded: Callable[[float], float] | None = rule.graded.weight_at if rule.graded is not None else None
        self.keep = 1.0 - rule.weight / 100.0
        self.explain = -1 if rule.explain is None else SLOT.get(rule.explain.signal, -1)
        # a rule of one comparison (most): evaluate_steps reads it here, without stepping through the list
        self.single: NativeCheck | None = self.checks[0] if len(self.checks) == 1 else None

    def passes(self, values: list[Any], signals: Signals | None) -> bool:
        """The guard over ``signals``, or over ``values`` when None (the engine's): then its
        memoised result is read here, from the guard's own cache by the key ``Guard.holds``
        makes (its signals' values in its order, ints as floats), and CEL runs for a new key only."""
        guard = self.guard
        assert guard is not None
        if signals is not None:
            return guard.holds(signals)
        key: list[Any] = []
        for slot in self.slots:
            value = values[slot] if 0 <= slot < len(values) else None
            if value is None:
                return False
            key.append(float(value) if type(value) is int else value)
        cached = self.cache.get(tuple(key))
        if cached is not None:
            return cached
        return guard.holds(FrameView(values))


def compare(op: int, x: float, k: float) -> bool:
    """``x op k`` for one of the numeric opcodes (two doubles, compiled)."""
    if op == 0:
        return x >= k
    if op == 1:
        return x > k
    if op == 2:
        return x <= k
    if op == 3:
        return x < k
    return x == k if op == 4 else x != k


def holds_at(check: NativeCheck, value: Any) -> bool:
    """``check.holds(value)`` for a non-null value: a float or an int a double holds exactly,
    against a numeric threshold, compared here as two doubles (most checks)."""
    op = check.op
    if op >= 0:
        if type(value) is int:  # (first: isinstance(value, float) of an int walks the int's type's bases)
            whole: int = value
            if -_EXACT <= whole <= _EXACT:
                return compare(op, float(whole), check.number)
        elif isinstance(value, float):
            return compare(op, value, check.number)
    return check.holds(value)


def text_holds(check: NativeCheck, text: str) -> bool:
    """``check.holds(text)`` for a check of text (``text_op`` set): as :meth:`NativeCheck.holds`."""
    text_op = check.text_op
    if text_op == _TEXT_EQ:
        return text == check.text
    if text_op == _TEXT_NE:
        return text != check.text
    return (text in check.options) == (text_op == _TEXT_IN)


def evaluate_steps(
    steps: list[NativeRule], values: list[Any], signals: Signals | None
) -> tuple[float, list[RuleHit] | None]:
    """``RulePack._evaluate`` over ``values`` (``SLOTS`` order, null past its end): the same remaining share, and
    the same hits in the same order (None when no rule's condition held: most evaluations build no list).
    ``signals``: what a guard reads (None: a view of ``values``). A float or an int compared with a number is
    compared here (most checks), anything else by :meth:`NativeCheck.holds`."""
    hits: list[RuleHit] | None = None
    remaining = 1.0
    n = len(values)
    for step in steps:
        single = step.single
        if single is not None:  # one comparison (most rules)
            slot = single.slot
            if slot < 0 or slot >= n:
                continue
            value = values[slot]
            if value is None:
                continue
            op = single.op
            x = 0.0  # the value as a double, for a numeric comparison (op >= 0), compared inline (no call)
            # (an int tested first: isinstance(value, float) of an int walks the int's type's bases)
            if op >= 0 and type(value) is int:
                whole: int = value
                if -_EXACT <= whole <= _EXACT:
                    x = float(whole)
                else:
                    op = -1
            elif op >= 0 and isinstance(value, float):
                x = value
            else:
                op = -1
            k = single.number
            if op < 0:
                if single.text_op and type(value) is str:  # text against text (a status): no method call
                    if not text_holds(single, value):
                        continue
                elif not single.holds(value):
                    continue
            elif not (x >= k if op == 0 else x > k if op == 1 else compare(op, x, k)):
                continue
            hits = [] if hits is None else hits
            remaining = fire(step, single, value, values, signals, hits, remaining)
        elif step.checks:
            for check in step.checks:
                slot = check.slot
                value = values[slot] if 0 <= slot < n else None
                if value is None or not holds_at(check, value):
                    continue
                hits = [] if hits is None else hits
                remaining = fire(step, check, value, values, signals, hits, remaining)
                break
        elif step.guard is not None and step.passes(values, signals):
            rule = step.rule
            explain = rule.explain
            assert explain is not None
            hits = [] if hits is None else hits
            hits.append(_hit(rule, explain, values[step.explain] if 0 <= step.explain < n else None))
            remaining *= step.keep
    return remaining, hits


def fire(
    step: NativeRule,
    check: NativeCheck,
    value: Any,
    values: list[Any],
    signals: Signals | None,
    hits: list[RuleHit],
    remaining: float,
) -> float:
    """The rule's comparison holds: its hit unless its guard fails; the remaining share after it."""
    if step.guard is not None and not step.passes(values, signals):
        return remaining
    # for a plain rule, 1.0 - weight / 100.0 is the very double of its kept share
    rule = step.rule
    weight = step.graded(value) if step.graded is not None else rule.weight
    hits.append(RuleHit(rule.id, weight, check.signal, value, check.threshold, None, rule.reason))
    return remaining * (1.0 - weight / 100.0)
