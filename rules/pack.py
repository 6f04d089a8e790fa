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

Speed: comparisons are precompiled to ``functools.partial(operator.X, threshold)`` calls and run
as plain Python; CEL (compiled once at load, see ``rules.expressions``) runs only for ``expr``
rules and for a ``when`` guard after its comparison already holds.

``check_pack(path)`` returns every :class:`Problem` (file, line, reason) sorted by line;
``load_pack(path)`` returns a :class:`RulePack` or raises :class:`PackError` listing them.
Loading is pure given the file's content (hot reload: load again and swap the pack).
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from rules.expressions import Guard, compile_condition
from rules.scoring import TIER_NAMES, Tiers, score_from_remaining
from rules.signals import SIGNAL_NAMES, SIGNAL_TYPES

DEFAULT_PACK = Path(__file__).resolve().parent / "packs" / "default.yaml"
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
        return round(self.min_weight + (self.weight - self.min_weight) * share, 2)

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


@dataclass(frozen=True, slots=True)
class Evaluation:
    """``score`` is the risk score rounded to one decimal; ``tier`` is the tier of that rounded
    score (so a reader never sees 25.0 labelled healthy); ``hits`` are the firing rules in pack
    order (a tuple: an evaluation is immutable, and the no-hit evaluation is shared)."""

    score: float
    tier: str
    hits: tuple[RuleHit, ...]


# per rule: (rule, ((signal, test, comparison), ...), guard.holds or None, 1 - weight/100)
_Check = tuple[str, Callable[[Any], bool], "Comparison"]
_Step = tuple[Rule, tuple[_Check, ...], Callable[[Mapping[str, Any]], bool] | None, float]
_Fast = Callable[[Mapping[str, Any], list[RuleHit]], float]


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
        self._quiet = Evaluation(0.0, self.tiers.tier(0.0), ())

    def evaluate(self, signals: Mapping[str, Any]) -> Evaluation:
        """Score one customer's signals: which rules fire (in pack order), the risk score and the tier."""
        hits: list[RuleHit] = []
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


def _line(node: Any, key: Any = None) -> int:
    """1-based line of ``node`` (or of ``node[key]``'s key) in the YAML file."""
    try:
        if key is None:
            return int(node.lc.line) + 1
        if isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        pass
    return 1


def _plain(value: Any) -> Any:
    """ruamel's scalar types as plain Python values (they must serialise with orjson)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


def _show(value: Any) -> str:
    return repr(_plain(value))


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(Problem(self.file, line, reason))

    def at(self, node: Any, key: str, fallback: int) -> int:
        return _line(node, key) if isinstance(node, dict) and key in node else fallback

    # a comparison: signal, op, threshold (a rule's own or an ``any`` item)
    def comparison(self, node: Any, line: int, rule_id: str) -> Comparison | None:
        where = f"rule {rule_id!r}"
        ok = True
        signal = node.get("signal")
        if "signal" not in node:
            self.problem(line, f"{where}: missing 'signal' (the signal to compare)")
            ok = False
        elif signal not in KNOWN_SIGNALS:
            self.problem(_line(node, "signal"), f"{where}: unknown signal {_show(signal)}{_suggest(signal)}")
            ok = False
        op = node.get("op")
        if "op" not in node:
            self.problem(line, f"{where}: missing 'op' (one of {' '.join(OPS)})")
            ok = False
        elif op not in OPS:
            self.problem(_line(node, "op"), f"{where}: unknown op {_show(op)} (one of {' '.join(OPS)})")
            ok = False
        if "threshold" not in node:
            self.problem(line, f"{where}: missing 'threshold'")
            return None
        threshold = _plain(node["threshold"])
        if not ok:
            return None
        reason = _threshold_problem(str(signal), str(op), threshold)
        if reason:
            self.problem(_line(node, "threshold"), f"{where}: {reason}")
            return None
        return Comparison.of(str(signal), str(op), threshold)

    def condition(self, node: Any, key: str, rule_id: str) -> Guard | None:
        source = node[key]
        if not isinstance(source, str) or not source.strip():
            self.problem(_line(node, key), f"rule {rule_id!r}: {key!r} must be a CEL expression (a string)")
            return None
        try:
            return compile_condition(source, KNOWN_SIGNALS, SIGNAL_TYPES)
        except ValueError as exc:
            self.problem(_line(node, key), f"rule {rule_id!r}: bad expression in {key!r}: {exc}")
            return None

    def rule(self, node: Any, line: int, seen: set[str]) -> Rule | None:
        if not isinstance(node, dict):
            self.problem(line, "each rule must be a mapping with id, weight, signal, op, threshold")
            return None
        ok = True
        rule_id = node.get("id")
        if "id" not in node:
            self.problem(line, "rule without an 'id'")
            rule_id, ok = f"#{line}", False
        elif not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            self.problem(
                _line(node, "id"),
                f"rule id {_show(rule_id)} must be a name: a letter, then letters, digits, _ . - (64 at most)",
            )
            rule_id, ok = f"#{line}", False
        elif rule_id in seen:
            self.problem(_line(node, "id"), f"duplicate rule id {rule_id!r}")
            ok = False
        else:
            seen.add(rule_id)
        where = f"rule {rule_id!r}"
        for key in sorted(set(node) - RULE_KEYS, key=str):
            self.problem(_line(node, key), f"{where}: unknown key {key!r}{_suggest(key, RULE_KEYS)}")
            ok = False

        raw_weight = node.get("weight")
        weight = float(raw_weight) if raw_weight is not None and _number(raw_weight) else -1.0
        if "weight" not in node:
            self.problem(line, f"{where}: missing 'weight' (0..100)")
            ok = False
        elif not 0.0 <= weight <= 100.0:
            self.problem(_line(node, "weight"), f"{where}: weight must be a number in 0..100, got {_show(raw_weight)}")
            ok = False

        comparisons: list[Comparison] = []
        explain: Comparison | None = None
        expr_guard: Guard | None = None
        if "expr" in node:
            for key in ("any", "op"):
                if key in node:
                    self.problem(_line(node, key), f"{where}: {key!r} is not used with 'expr' (it is the condition)")
                    ok = False
            expr_guard = self.condition(node, "expr", rule_id)
            explain = self.explanation(node, line, rule_id, expr_guard)
            ok = ok and expr_guard is not None and explain is not None
        elif "any" in node:
            for key in sorted(COMPARISON_KEYS & set(node)):
                self.problem(_line(node, key), f"{where}: give either 'any' or signal/op/threshold, not both")
                ok = False
            items = node["any"]
            if not isinstance(items, list) or not items:
                self.problem(_line(node, "any"), f"{where}: 'any' must be a non-empty list of comparisons")
                ok = False
            else:
                for i, item in enumerate(items):
                    item_line = _line(items, i)
                    if not isinstance(item, dict):
                        self.problem(item_line, f"{where}: each 'any' item is a mapping with signal, op, threshold")
                        ok = False
                        continue
                    for key in sorted(set(item) - COMPARISON_KEYS, key=str):
                        self.problem(_line(item, key), f"{where}: unknown key {key!r} in an 'any' comparison")
                        ok = False
                    comp = self.comparison(item, item_line, rule_id)
                    if comp is None:
                        ok = False
                    else:
                        comparisons.append(comp)
        else:
            comp = self.comparison(node, line, rule_id)
            if comp is None:
                ok = False
            else:
                comparisons.append(comp)

        when_guard: Guard | None = None
        if "when" in node:
            when_guard = self.condition(node, "when", rule_id)
            ok = ok and when_guard is not None

        reason = node.get("reason", DEFAULT_REASON)
        if not isinstance(reason, str) or not reason.strip():
            self.problem(_line(node, "reason"), f"{where}: 'reason' must be a sentence (a string)")
            ok = False
        else:
            bad = _template_problem(reason)
            if bad:
                self.problem(_line(node, "reason"), f"{where}: reason {bad}")
                ok = False
        description = node.get("description", "")
        if not isinstance(description, str):
            self.problem(_line(node, "description"), f"{where}: 'description' must be a string")
            ok = False
        graded: Graded | None = None
        if "graded" in node:
            graded = self.graded(node, rule_id, comparisons, weight)
            ok = ok and graded is not None
        if not ok:
            return None

        when = str(node["when"]) if "when" in node else None
        expr = str(node["expr"]) if "expr" in node else None
        guard = when_guard
        if expr_guard is not None:
            guard = expr_guard if when_guard is None else _both(expr_guard, when_guard)
        return Rule(
            rule_id, weight, tuple(comparisons), guard, str(reason), line, when, expr, explain, str(description), graded
        )

    def graded(self, node: Any, rule_id: str, comparisons: list[Comparison], weight: float) -> Graded | None:
        """``graded: {full_at: X, step: S, min_weight: W}`` of a rule with one numeric comparison."""
        where = f"rule {rule_id!r}: 'graded'"
        spec, line = node["graded"], _line(node, "graded")
        if not isinstance(spec, dict):
            self.problem(line, f"{where} must be a mapping with full_at (and optional step, min_weight)")
            return None
        for key in sorted(set(spec) - GRADED_KEYS, key=str):
            self.problem(_line(spec, key), f"{where}: unknown key {key!r} (full_at, step, min_weight)")
            return None
        if len(comparisons) != 1 or comparisons[0].op not in GRADED_OPS or "any" in node:
            self.problem(line, f"{where} needs one comparison signal/op/threshold with op >=, >, <= or <")
            return None
        threshold = comparisons[0].threshold
        full_at, step, low = spec.get("full_at"), spec.get("step"), spec.get("min_weight", 0)
        if not _number(full_at) or not _number(threshold):
            self.problem(line, f"{where}: full_at (a number) is required, with a numeric threshold")
            return None
        rising = comparisons[0].op in (">=", ">")
        if (full_at <= threshold) if rising else (full_at >= threshold):
            side = "above" if rising else "below"
            self.problem(_line(spec, "full_at"), f"{where}: full_at must be {side} the threshold {_fmt(threshold)}")
            return None
        assert full_at is not None
        span = abs(float(full_at) - float(threshold))
        step = span / 100.0 if step is None else step
        if not _number(step) or not 0 < step <= span:
            self.problem(_line(spec, "step"), f"{where}: step must be a number in (0, {_fmt(span)}]")
            return None
        if not _number(low) or not 0 <= low <= weight:
            self.problem(_line(spec, "min_weight"), f"{where}: min_weight must be a number in 0..weight")
            return None
        assert step is not None and low is not None
        return Graded(float(threshold), float(full_at), float(step), float(low), weight)

    def explanation(self, node: Any, line: int, rule_id: str, expr: Guard | None) -> Comparison | None:
        """The ``signal`` and ``threshold`` an ``expr`` rule's alert shows."""
        where = f"rule {rule_id!r}"
        signal = node.get("signal")
        if "signal" not in node:
            self.problem(line, f"{where}: an 'expr' rule still names the 'signal' its alert shows")
            return None
        if signal not in KNOWN_SIGNALS:
            self.problem(_line(node, "signal"), f"{where}: unknown signal {_show(signal)}{_suggest(signal)}")
            return None
        if expr is not None and signal not in expr.signals:
            self.problem(_line(node, "signal"), f"{where}: signal {signal!r} is not used in the 'expr'")
            return None
        if "threshold" not in node:
            self.problem(line, f"{where}: an 'expr' rule still names the 'threshold' its alert shows")
            return None
        threshold = _plain(node["threshold"])
        if not (_number(threshold) or isinstance(threshold, str | list)):
            self.problem(_line(node, "threshold"), f"{where}: threshold must be a number, a string or a list")
            return None
        return Comparison(str(signal), "expr", threshold, _never)

    def tiers(self, doc: Any) -> Tiers:
        default = Tiers()
        if "tiers" not in doc:
            self.problem(1, "missing 'tiers' (watch, at_risk and critical: the lowest score of each)")
            return default
        node = doc["tiers"]
        line = _line(doc, "tiers")
        if not isinstance(node, dict):
            self.problem(line, "'tiers' must map watch, at_risk and critical to scores")
            return default
        values: dict[str, float] = {}
        for name in TIER_NAMES[1:]:
            if name not in node:
                self.problem(line, f"tiers: missing {name!r}")
                continue
            value = node[name]
            if not _number(value) or not 0 < value <= 100:
                self.problem(_line(node, name), f"tiers: {name} must be a score in (0, 100], got {_show(value)}")
                continue
            values[name] = float(value)
        for key in sorted(set(node) - set(TIER_NAMES[1:]), key=str):
            self.problem(_line(node, key), f"tiers: unknown tier {key!r} (the tiers are watch, at_risk, critical)")
        if len(values) < 3:
            return default
        if not values["watch"] < values["at_risk"] < values["critical"]:
            self.problem(
                line,
                f"tiers not increasing: need watch < at_risk < critical, got "
                f"{_fmt(values['watch'])}, {_fmt(values['at_risk'])}, {_fmt(values['critical'])}",
            )
            return default
        return Tiers(**values)


def _never(value: Any) -> bool:
    return False


def _both(first: Guard, second: Guard) -> Guard:
    """One guard that holds when both hold (an ``expr`` rule with a ``when``)."""
    names = tuple(sorted(first.signals | second.signals))

    class _Program:
        @staticmethod
        def execute(context: Mapping[str, Any]) -> bool:
            return first.program.execute(context) is True and second.program.execute(context) is True

    return Guard(f"({first.source}) && ({second.source})", frozenset(names), _Program(), names)


def _suggest(word: Any, options: frozenset[str] = KNOWN_SIGNALS) -> str:
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _threshold_problem(signal: str, op: str, threshold: Any) -> str | None:
    """Why ``signal op threshold`` cannot be right, or None."""
    kind = SIGNAL_TYPES.get(signal, "number")
    values = SIGNAL_VALUES.get(signal)
    if op in LIST_OPS:
        if not isinstance(threshold, list) or not threshold:
            return f"op {op!r} needs a non-empty list as threshold, e.g. [paused, downgraded]"
        items = threshold
    else:
        if isinstance(threshold, list):
            return f"a list threshold needs op 'in' or 'not_in', not {op!r}"
        items = [threshold]
    for item in items:
        if kind == "number" and not _number(item):
            return f"signal {signal!r} is a number; threshold {item!r} is not"
        if kind == "string":
            if not isinstance(item, str):
                return f"signal {signal!r} is text; threshold {item!r} is not (quote it)"
            if values is not None and item not in values:
                return f"{signal!r} is never {item!r} (it is one of {', '.join(sorted(values))})"
    if kind == "string" and op not in ("==", "!=", "in", "not_in"):
        return f"signal {signal!r} is text: compare it with ==, !=, in or not_in, not {op!r}"
    return None


def _template_problem(template: str) -> str | None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"is not a valid template: {exc} (write {{{{ and }}}} for literal braces)"
    for name in fields:
        if name not in REASON_FIELDS:
            return f"uses {{{name}}}; the placeholders are {', '.join('{' + f + '}' for f in sorted(REASON_FIELDS))}"
    return None


def parse_pack(text: str, file: str = "<memory>") -> tuple[RulePack | None, list[Problem]]:
    """Parse a pack from YAML text; returns the pack (None if any problem) and every problem, by line."""
    loader = _Loader(file)
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(file, line, f"not valid YAML: {what}")]
    if not isinstance(doc, dict):
        return None, [Problem(file, 1, "a rule pack is a mapping with 'version', 'tiers' and 'rules'")]
    for key in sorted(set(doc) - TOP_KEYS, key=str):
        loader.problem(_line(doc, key), f"unknown top-level key {key!r}{_suggest(key, TOP_KEYS)}")
    if "version" not in doc:
        loader.problem(1, f"missing 'version' (this format is version {PACK_VERSION})")
    elif doc["version"] != PACK_VERSION or isinstance(doc["version"], bool):
        loader.problem(_line(doc, "version"), f"unsupported version {_show(doc['version'])} (expected {PACK_VERSION})")
    tiers = loader.tiers(doc)
    rules_node = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(rules_node, list) or not rules_node:
        loader.problem(loader.at(doc, "rules", 1), "'rules' must be a non-empty list")
    else:
        seen: set[str] = set()
        for i, node in enumerate(rules_node):
            rule = loader.rule(node, _line(rules_node, i), seen)
            if rule is not None:
                rules.append(rule)
    if loader.problems:
        return None, sorted(loader.problems, key=lambda p: p.line)
    return RulePack(tuple(rules), tiers, file, PACK_VERSION), []


def check_pack(path: str | Path) -> list[Problem]:
    """Every problem of the pack at ``path``, sorted by line (empty when valid)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 1, f"cannot read the file: {exc}")]
    return parse_pack(text, str(path))[1]


def load_pack(path: str | Path | None = None) -> RulePack:
    """Load and validate a pack (the shipped default when ``path`` is None); raises PackError."""
    path = Path(path) if path is not None else DEFAULT_PACK
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError([Problem(str(path), 1, f"cannot read the file: {exc}")]) from None
    pack, problems = parse_pack(text, str(path))
    if pack is None:
        raise PackError(problems)
    return pack
