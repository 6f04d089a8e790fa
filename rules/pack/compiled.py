"""The rule pack compiled for the hot path: ``RulePack.evaluate`` scores one customer's signals.

Comparisons are precompiled to ``functools.partial(operator.X, threshold)`` calls and, for the
whole pack, to one generated Python function (each comparison inline); CEL runs only for
``expr`` rules and for a ``when`` guard after its comparison already holds. The engine hands
its signals as a list in ``rules.signals.SLOTS`` order (``evaluate_values``), which the
generated function reads by position. When this module runs compiled (mypyc, ``agents.core``),
the native loop of ``rules.pack.native`` replaces the generated function (which would run
interpreted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rules.expressions import Signals
from rules.pack.model import LIST_OPS, PACK_VERSION, Comparison, Evaluation, Rule, RuleHit, _hit
from rules.pack.native import FrameView, NativeRule, evaluate_steps
from rules.scoring import Tiers, score_from_remaining
from rules.signals import SLOT, SLOTS

_Check = tuple[str, Callable[[Any], bool], "Comparison"]
_Step = tuple[Rule, tuple[_Check, ...], Callable[[Signals], bool] | None, float]
_Fast = Callable[[list[Any], Signals, list[RuleHit]], float]
NATIVE: Final = not __file__.endswith((".py", ".pyc"))  # this module runs compiled: evaluate with rules.pack.native


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

    def no_hits(self) -> Evaluation:
        """The evaluation of a customer no rule fires for (shared by every such evaluation)."""
        assert self._quiet is not None  # (set up with the pack)
        return self._quiet

    def evaluate(self, signals: Mapping[str, Any]) -> Evaluation:
        """Score one customer's signals: which rules fire (in pack order), the risk score and the tier."""
        return self._evaluation([signals.get(name) for name in SLOTS], signals)

    def evaluate_values(self, values: list[Any]) -> Evaluation:
        """``evaluate`` for the signals as a list in ``rules.signals.SLOTS`` order (the engine's); a
        shorter list has the signals past its end null (the engine's without a model: the frame's part)."""
        if not NATIVE and len(values) < len(SLOTS):  # the generated function reads every slot
            values = values + [None] * (len(SLOTS) - len(values))
        return self._evaluation(values, None)

    def _evaluation(self, values: list[Any], signals: Signals | None) -> Evaluation:
        if NATIVE:  # (the hits' list made at the first hit only)
            remaining, found = evaluate_steps(self._steps, values, signals)
            if not found and self._quiet is not None:
                return self._quiet
            hits = [] if found is None else found
        else:
            hits = []
            view = signals if signals is not None else FrameView(values)
            try:
                remaining = self._fast(values, view, hits) if self._fast is not None else self._evaluate(view, hits)
            except TypeError:  # a signal of an unexpected type: redo it comparison by comparison
                hits = []
                remaining = self._evaluate(view, hits)
        if not hits and self._quiet is not None:
            return self._quiet
        score = score_from_remaining(remaining)
        return Evaluation(score, self.tiers.tier(score), tuple(hits))

    def _evaluate(self, signals: Signals, hits: list[RuleHit]) -> float:
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


_PY_OPS = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "==": "==", "!=": "!=", "in": "in", "not_in": "not in"}


def _generate(rules: tuple[Rule, ...]) -> _Fast | None:
    """One Python function for the whole pack: each comparison inline (``v >= K3``), the CEL
    guard only after its comparison holds. Thresholds, rules and guards are passed in the
    function's namespace, never pasted into the source; signal names are validated identifiers.
    Returns None (use the generic loop) for a pack it cannot express."""
    env: dict[str, Any] = {"Hit": RuleHit}
    lines = ["def fast(values, view, hits):", "    remaining = 1.0"]
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
            if rule.explain.signal not in SLOT:
                return None
            lines.append(f"    if G{r}(view):")
            lines.append(f"        v = values[{SLOT[rule.explain.signal]}]")
            lines.append("        " + fire.format(sig=rule.explain.signal, thr=f"E{r}"))
            continue
        if len(rule.comparisons) > 12 or any(c.signal not in SLOT for c in rule.comparisons):
            return None  # deeper than Python's nesting allows comfortably, or a signal never computed
        indent = "    "
        for c, comp in enumerate(rule.comparisons):
            key = f"K{r}_{c}"
            env[key] = frozenset(comp.threshold) if comp.op in LIST_OPS else comp.threshold
            env[f"T{r}_{c}"] = comp.threshold
            lines.append(f"{indent}v = values[{SLOT[comp.signal]}]")
            lines.append(f"{indent}if v is not None and v {_PY_OPS[comp.op]} {key}:")
            body = indent + "    "
            if rule.guard is not None:
                lines.append(f"{body}if G{r}(view):")
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
