"""The rule pack compiled for the hot path: ``RulePack.evaluate`` scores one customer's signals.

Comparisons are precompiled to ``functools.partial(operator.X, threshold)`` calls and, for the
whole pack, to one generated Python function (each comparison inline); CEL runs only for
``expr`` rules and for a ``when`` guard after its comparison already holds. When this module
runs compiled (mypyc, ``agents.core``), a native loop replaces the generated function (which
would run interpreted): a numeric comparison is a comparison of two doubles (``NativeCheck``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rules.pack.model import LIST_OPS, PACK_VERSION, Comparison, Evaluation, Rule, RuleHit, _hit
from rules.scoring import Tiers, score_from_remaining

_Check = tuple[str, Callable[[Any], bool], "Comparison"]
_Step = tuple[Rule, tuple[_Check, ...], Callable[[Mapping[str, Any]], bool] | None, float]
_Fast = Callable[[Mapping[str, Any], list[RuleHit]], float]
NATIVE: Final = not __file__.endswith(".py")  # this module runs compiled: evaluate with _native


@dataclass(slots=True)
class RulePack:
    """A validated rule pack. ``evaluate`` is the per-event hot path (see the module docstring)."""

    rules: tuple[Rule, ...]
    tiers: Tiers
    source: str = "<memory>"
    version: int = PACK_VERSION
    signals_used: frozenset[str] = field(default_factory=frozenset)
    _plan: tuple[_Step, ...] = field(init=False, repr=False, compare=False, default=())
    _fast: _Fast | None = field(init=False, repr=False, compare=False, default=None)
    _quiet: Evaluation | None = field(init=False, repr=False, compare=False, default=None)
    _steps: list[NativeRule] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        self._plan = tuple(
            (
                rule,
                tuple((c.signal, c.test, c) for c in rule.comparisons),
                rule.guard.holds if rule.guard is not None else None,
                1.0 - rule.weight / 100.0,
            )
            for rule in self.rules
        )
        if not self.signals_used:
            self.signals_used = frozenset().union(*(r.signals for r in self.rules))
        self._fast = _generate(self.rules)
        self._steps = [NativeRule(rule) for rule in self.rules]
        self._quiet = Evaluation(0.0, self.tiers.tier(0.0), ())

    def evaluate(self, signals: Mapping[str, Any]) -> Evaluation:
        """Score one customer's signals: which rules fire (in pack order), the risk score and the tier."""
        hits: list[RuleHit] = []
        if NATIVE and isinstance(signals, dict):
            remaining = self._native(signals, hits)
        else:
            try:
                remaining = self._fast(signals, hits) if self._fast is not None else self._evaluate(signals, hits)
            except TypeError:  # a signal of an unexpected type: redo it comparison by comparison
                hits = []
                remaining = self._evaluate(signals, hits)
        if not hits and self._quiet is not None:
            return self._quiet
        score = score_from_remaining(remaining)
        return Evaluation(score, self.tiers.tier(score), tuple(hits))

    def _evaluate(self, signals: Mapping[str, Any], hits: list[RuleHit]) -> float:
        """The reference evaluation (generic loop); the generated fast path must agree with it."""
        remaining = 1.0
        get = signals.get
        for rule, checks, guard, keep in self._plan:
            if checks:
                for name, test, comp in checks:
                    value = get(name)
                    if value is None:
                        continue
                    try:
                        if not test(value):
                            continue
                    except TypeError:  # a value of the wrong type: the comparison does not hold
                        continue
                    if guard is None or guard(signals):
                        if rule.graded is not None:
                            weight = rule.graded.weight_at(value)
                            hits.append(RuleHit(rule.id, weight, comp.signal, value, comp.threshold, None, rule.reason))
                            remaining *= 1.0 - weight / 100.0
                        else:
                            hits.append(_hit(rule, comp, value))
                            remaining *= keep
                    break
            elif guard is not None and guard(signals):
                explain = rule.explain
                assert explain is not None
                hits.append(_hit(rule, explain, get(explain.signal)))
                remaining *= keep
        return remaining

    def _native(self, signals: dict[str, Any], hits: list[RuleHit]) -> float:
        """The reference loop (``_evaluate``) over native steps: the same hits, in the same order."""
        remaining = 1.0
        for step in self._steps:
            rule, guard = step.rule, step.guard
            if step.checks:
                for check in step.checks:
                    value = signals.get(check.signal)
                    if value is None or not check.holds(value):
                        continue
                    if guard is None or guard(signals):
                        # for a plain rule, 1.0 - weight / 100.0 is the very double of its kept share
                        weight = step.graded(value) if step.graded is not None else rule.weight
                        hits.append(RuleHit(rule.id, weight, check.signal, value, check.threshold, None, rule.reason))
                        remaining *= 1.0 - weight / 100.0
                    break
            elif guard is not None and guard(signals):
                explain = rule.explain
                assert explain is not None
                hits.append(_hit(rule, explain, signals.get(explain.signal)))
                remaining *= step.keep
        return remaining


_EXACT: Final = 2**53  # ints up to this are exact doubles: compared as doubles, they compare as ints
_OPCODES: Final = {">=": 0, ">": 1, "<=": 2, "<": 3, "==": 4, "!=": 5}


class NativeCheck:
    """One comparison of a rule: ``holds(value)`` is ``value op threshold`` for a non-null value
    (False when the two do not compare, as in ``RulePack._evaluate``): two doubles compared when
    both are numbers a double holds exactly, else the comparison's own test."""

    __slots__ = ("number", "op", "signal", "test", "threshold")

    def __init__(self, comp: Comparison) -> None:
        self.signal = sys.intern(comp.signal)  # the frame's keys are interned: found by identity
        self.threshold = comp.threshold
        self.test = comp.test
        th = comp.threshold
        numeric = isinstance(th, float) or (isinstance(th, int) and not isinstance(th, bool) and abs(th) <= _EXACT)
        self.op = _OPCODES.get(comp.op, -1) if numeric else -1
        self.number = float(th) if numeric else 0.0

    def holds(self, value: Any) -> bool:
        op = self.op
        x = 0.0
        if op < 0:
            return self._test(value)
        if isinstance(value, float):
            x = value
        elif isinstance(value, int) and -_EXACT <= value <= _EXACT:
            x = float(value)
        else:
            return self._test(value)
        k = self.number
        if op == 0:
            return x >= k
        if op == 1:
            return x > k
        if op == 2:
            return x <= k
        if op == 3:
            return x < k
        return x == k if op == 4 else x != k

    def _test(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:  # a value of the wrong type: the comparison does not hold
            return False


class NativeRule:
    """One rule for ``RulePack._native``: its checks, guard, graded weight and kept share."""

    __slots__ = ("checks", "graded", "guard", "keep", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.checks = [NativeCheck(c) for c in rule.comparisons]
        self.guard: Callable[[Mapping[str, Any]], bool] | None = rule.guard.holds if rule.guard is not None else None
        self.graded: Callable[[float], float] | None = rule.graded.weight_at if rule.graded is not None else None
        self.keep = 1.0 - rule.weight / 100.0


_PY_OPS = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "==": "==", "!=": "!=", "in": "in", "not_in": "not in"}


def _generate(rules: tuple[Rule, ...]) -> _Fast | None:
    """One Python function for the whole pack: each comparison inline (``v >= K3``), the CEL
    guard only after its comparison holds. Thresholds, rules and guards are passed in the
    function's namespace, never pasted into the source; signal names are validated identifiers.
    Returns None (use the generic loop) for a pack it cannot express."""
    env: dict[str, Any] = {"Hit": RuleHit}
    lines = ["def fast(signals, hits):", "    get = signals.get", "    remaining = 1.0"]
    for r, rule in enumerate(rules):
        env[f"R{r}"] = rule
        env[f"W{r}"] = 1.0 - rule.weight / 100.0
        fire = f"hits.append(Hit(R{r}.id, R{r}.weight, {{sig!r}}, v, {{thr}}, None, R{r}.reason)); remaining *= W{r}"
        if rule.graded is not None:
            env[f"GW{r}"] = rule.graded.weight_at
            fire = (
                f"w = GW{r}(v); hits.append(Hit(R{r}.id, w, {{sig!r}}, v, {{thr}}, None, R{r}.reason)); "
                "remaining *= 1.0 - w / 100.0"
            )
        if rule.guard is not None:
            env[f"G{r}"] = rule.guard.holds
        if not rule.comparisons:
            if rule.guard is None or rule.explain is None:
                return None
            env[f"E{r}"] = rule.explain.threshold
            lines.append(f"    if G{r}(signals):")
            lines.append(f"        v = get({rule.explain.signal!r})")
            lines.append("        " + fire.format(sig=rule.explain.signal, thr=f"E{r}"))
            continue
        if len(rule.comparisons) > 12:  # deeper than Python's nesting allows comfortably
            return None
        indent = "    "
        for c, comp in enumerate(rule.comparisons):
            key = f"K{r}_{c}"
            env[key] = frozenset(comp.threshold) if comp.op in LIST_OPS else comp.threshold
            env[f"T{r}_{c}"] = comp.threshold
            lines.append(f"{indent}v = get({comp.signal!r})")
            lines.append(f"{indent}if v is not None and v {_PY_OPS[comp.op]} {key}:")
            body = indent + "    "
            if rule.guard is not None:
                lines.append(f"{body}if G{r}(signals):")
                body += "    "
            lines.append(body + fire.format(sig=comp.signal, thr=f"T{r}_{c}"))
            if c < len(rule.comparisons) - 1:
                lines.append(f"{indent}else:")
                indent += "    "
    lines.append("    return remaining")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<rule pack>", "exec"), env, namespace)  # generated from validated names only
    fast: _Fast = namespace["fast"]
    return fast
