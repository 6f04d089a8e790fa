"""Validation of a rule pack's YAML nodes into rules and tiers, with a problem (line, reason)
for everything wrong, so that ``rules check`` can list them all at once."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from rules.expressions import Guard, compile_condition
from rules.pack.model import (
    COMPARISON_KEYS,
    DEFAULT_REASON,
    GRADED_KEYS,
    GRADED_OPS,
    KNOWN_SIGNALS,
    LIST_OPS,
    OPS,
    REASON_FIELDS,
    RULE_ID,
    RULE_KEYS,
    SIGNAL_VALUES,
    Comparison,
    Graded,
    Problem,
    Rule,
    _fmt,
)
from rules.pack.yaml_nodes import _line, _number, _plain, _show
from rules.scoring import TIER_NAMES, Tiers
from rules.signals import SIGNAL_TYPES


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

    def rule_id(self, node: Any, line: int, seen: set[str]) -> tuple[str, bool]:
        """The rule's id (``#line`` when it has none usable) and whether it is valid and new."""
        rule_id = node.get("id")
        if "id" not in node:
            self.problem(line, "rule without an 'id'")
            return f"#{line}", False
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            self.problem(
                _line(node, "id"),
                f"rule id {_show(rule_id)} must be a name: a letter, then letters, digits, _ . - (64 at most)",
            )
            return f"#{line}", False
        if rule_id in seen:
            self.problem(_line(node, "id"), f"duplicate rule id {rule_id!r}")
            return rule_id, False
        seen.add(rule_id)
        return rule_id, True

    def weight(self, node: Any, line: int, where: str) -> tuple[float, bool]:
        raw_weight = node.get("weight")
        weight = float(raw_weight) if raw_weight is not None and _number(raw_weight) else -1.0
        if "weight" not in node:
            self.problem(line, f"{where}: missing 'weight' (0..100)")
            return weight, False
        if not 0.0 <= weight <= 100.0:
            self.problem(_line(node, "weight"), f"{where}: weight must be a number in 0..100, got {_show(raw_weight)}")
            return weight, False
        return weight, True

    def any_of(self, node: Any, rule_id: str, comparisons: list[Comparison]) -> bool:
        """The comparisons of an ``any:`` list, appended to ``comparisons``; False on any problem."""
        where = f"rule {rule_id!r}"
        items = node["any"]
        if not isinstance(items, list) or not items:
            self.problem(_line(node, "any"), f"{where}: 'any' must be a non-empty list of comparisons")
            return False
        ok = True
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
        return ok

    def rule(self, node: Any, line: int, seen: set[str]) -> Rule | None:
        if not isinstance(node, dict):
            self.problem(line, "each rule must be a mapping with id, weight, signal, op, threshold")
            return None
        rule_id, ok = self.rule_id(node, line, seen)
        where = f"rule {rule_id!r}"
        for key in sorted(set(node) - RULE_KEYS, key=str):
            self.problem(_line(node, key), f"{where}: unknown key {key!r}{_suggest(key, RULE_KEYS)}")
            ok = False
        weight, weight_ok = self.weight(node, line, where)
        ok = ok and weight_ok

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
            ok = self.any_of(node, rule_id, comparisons) and ok
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

        ok = self.texts(node, where) and ok
        reason, description = node.get("reason", DEFAULT_REASON), node.get("description", "")
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

    def texts(self, node: Any, where: str) -> bool:
        """The rule's ``reason`` (a sentence, a valid template) and ``description`` (a string)."""
        ok = True
        reason = node.get("reason", DEFAULT_REASON)
        if not isinstance(reason, str) or not reason.strip():
            self.problem(_line(node, "reason"), f"{where}: 'reason' must be a sentence (a string)")
            ok = False
        elif bad := _template_problem(reason):
            self.problem(_line(node, "reason"), f"{where}: reason {bad}")
            ok = False
        if not isinstance(node.get("description", ""), str):
            self.problem(_line(node, "description"), f"{where}: 'description' must be a string")
            ok = False
        return ok

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
