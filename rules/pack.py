"""The rule pack: a YAML file of weighted, explainable rules and the tier thresholds.

A rule fires when any of its comparisons ``signal op threshold`` holds (the first that holds is
the one the alert reports) and its optional CEL guard ``when`` is true. Comparisons run as plain
Python operator calls; CEL (``common-expression-language``) is compiled once at load and only
evaluated for guards, after a comparison already holds. A comparison or guard over a null signal
is false, never an error.

``load_pack`` raises :class:`PackError` listing every problem with file, line and reason;
``check_pack`` returns the problems. See ``rules/packs/default.yaml`` for the format.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from rules.expressions import Guard, compile_guard
from rules.scoring import TIER_NAMES, Tiers, risk_score
from rules.signals import SIGNAL_NAMES, SIGNAL_TYPES

DEFAULT_PACK = Path(__file__).resolve().parent / "packs" / "default.yaml"

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda value, options: value in options,
    "not_in": lambda value, options: value not in options,
}
RULE_KEYS = frozenset({"id", "weight", "signal", "op", "threshold", "any", "when", "reason", "description"})
COMPARISON_KEYS = frozenset({"signal", "op", "threshold"})


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


@dataclass(frozen=True, slots=True)
class Comparison:
    signal: str
    op: str
    threshold: Any
    test: Callable[[Any, Any], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    weight: float
    comparisons: tuple[Comparison, ...]
    guard: Guard | None
    reason: str
    line: int = 0

    @property
    def signals(self) -> frozenset[str]:
        used = {c.signal for c in self.comparisons}
        if self.guard is not None:
            used |= self.guard.signals
        return frozenset(used)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One firing rule, as an alert explains it."""

    rule: str
    weight: float
    signal: str
    value: Any
    threshold: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "weight": int(self.weight) if self.weight.is_integer() else self.weight,
            "signal": self.signal,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    score: float
    tier: str
    hits: list[RuleHit]


@dataclass(slots=True)
class RulePack:
    rules: tuple[Rule, ...]
    tiers: Tiers
    source: str = "<memory>"
    version: int = 1
    signals_used: frozenset[str] = field(default_factory=frozenset)

    def evaluate(self, signals: Mapping[str, Any]) -> Evaluation:
        """Score the signals of one customer: which rules fire, the risk score and the tier."""
        hits: list[RuleHit] = []
        for rule in self.rules:
            for comp in rule.comparisons:
                value = signals.get(comp.signal)
                if value is None or not comp.test(value, comp.threshold):
                    continue
                if rule.guard is not None and not rule.guard.holds(signals):
                    break
                hits.append(
                    RuleHit(rule.id, rule.weight, comp.signal, value, comp.threshold, _reason(rule, comp, value))
                )
                break
        score = risk_score([h.weight for h in hits])
        return Evaluation(score, self.tiers.tier(score), hits)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value - round(value)) > 1e-9 else str(round(value))
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _reason(rule: Rule, comp: Comparison, value: Any) -> str:
    try:
        return rule.reason.format(value=_fmt(value), threshold=_fmt(comp.threshold), signal=comp.signal)
    except (KeyError, IndexError, ValueError):
        return rule.reason


# --- loading and validation -------------------------------------------------------------


def _line(node: Any, key: Any = None) -> int:
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
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(Problem(self.file, line, reason))

    def comparison(self, node: Any, line: int, rule_id: str) -> Comparison | None:
        signal = node.get("signal")
        op = node.get("op", ">=")
        threshold = node.get("threshold")
        ok = True
        if signal not in SIGNAL_NAMES:
            self.problem(
                _line(node, "signal") if "signal" in node else line,
                f"rule {rule_id!r}: unknown signal {signal!r}"
                if signal is not None
                else f"rule {rule_id!r}: missing 'signal'",
            )
            ok = False
        if op not in OPERATORS:
            self.problem(_line(node, "op"), f"rule {rule_id!r}: unknown op {op!r} (one of {', '.join(OPERATORS)})")
            ok = False
        if "threshold" not in node:
            self.problem(line, f"rule {rule_id!r}: missing 'threshold'")
            ok = False
        elif ok:
            kind = SIGNAL_TYPES[signal]
            if op in ("in", "not_in"):
                if not isinstance(threshold, list) or not threshold:
                    self.problem(_line(node, "threshold"), f"rule {rule_id!r}: op {op!r} needs a non-empty list")
                    ok = False
            elif kind == "number" and not _number(threshold):
                self.problem(
                    _line(node, "threshold"),
                    f"rule {rule_id!r}: signal {signal!r} is a number; threshold {threshold!r} is not",
                )
                ok = False
            elif kind == "string" and (not isinstance(threshold, str) or op not in ("==", "!=")):
                self.problem(
                    _line(node, "threshold"),
                    f"rule {rule_id!r}: signal {signal!r} is a string: use ==, != , in or not_in with strings",
                )
                ok = False
        extra = set(node) - COMPARISON_KEYS - (RULE_KEYS if "id" in node else set())
        for key in sorted(extra):
            self.problem(_line(node, key), f"rule {rule_id!r}: unknown key {key!r}")
        if not ok:
            return None
        return Comparison(str(signal), str(op), _plain(threshold), OPERATORS[op])

    def rule(self, node: Any, line: int, seen: set[str]) -> Rule | None:
        if not isinstance(node, dict):
            self.problem(line, "each rule must be a mapping with id, weight, signal, op, threshold")
            return None
        rule_id = node.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            self.problem(line, "rule without an 'id' (a non-empty string)")
            rule_id = f"#{line}"
        elif rule_id in seen:
            self.problem(_line(node, "id"), f"duplicate rule id {rule_id!r}")
        seen.add(rule_id)
        for key in sorted(set(node) - RULE_KEYS):
            self.problem(_line(node, key), f"rule {rule_id!r}: unknown key {key!r}")
        raw_weight = node.get("weight")
        weight = float(cast(float, raw_weight)) if _number(raw_weight) else -1.0
        if not 0 <= weight <= 100:
            self.problem(
                _line(node, "weight") if "weight" in node else line,
                f"rule {rule_id!r}: weight must be a number in 0..100, got {raw_weight!r}",
            )
        comparisons: list[Comparison | None] = []
        if "any" in node:
            if "signal" in node:
                self.problem(_line(node, "any"), f"rule {rule_id!r}: give either 'signal' or 'any', not both")
            items = node["any"]
            if not isinstance(items, list) or not items:
                self.problem(_line(node, "any"), f"rule {rule_id!r}: 'any' must be a non-empty list of comparisons")
            else:
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        self.problem(_line(items, i), f"rule {rule_id!r}: each 'any' item needs signal, op, threshold")
                        comparisons.append(None)
                    else:
                        comparisons.append(self.comparison(item, _line(items, i), rule_id))
        else:
            comparisons.append(self.comparison(node, line, rule_id))
        guard = None
        if "when" in node:
            expr = node["when"]
            if not isinstance(expr, str) or not expr.strip():
                self.problem(_line(node, "when"), f"rule {rule_id!r}: 'when' must be a CEL expression string")
            else:
                try:
                    guard = compile_guard(expr, SIGNAL_NAMES)
                except ValueError as exc:
                    self.problem(_line(node, "when"), f"rule {rule_id!r}: bad expression: {exc}")
        reason = node.get("reason", "{signal} is {value} (threshold {threshold})")
        if not isinstance(reason, str):
            self.problem(_line(node, "reason"), f"rule {rule_id!r}: 'reason' must be a string")
            reason = ""
        if any(c is None for c in comparisons) or not 0 <= weight <= 100:
            return None
        return Rule(rule_id, weight, tuple(c for c in comparisons if c), guard, reason, line)

    def tiers(self, node: Any, line: int) -> Tiers:
        default = Tiers()
        if node is None:
            return default
        if not isinstance(node, dict):
            self.problem(line, "'tiers' must map watch, at_risk, critical to scores")
            return default
        values: dict[str, float] = {}
        for name in TIER_NAMES[1:]:
            value = node.get(name, getattr(default, name))
            if not _number(value) or not 0 < value <= 100:
                self.problem(
                    _line(node, name) if name in node else line, f"tier {name!r}: expected a score in (0, 100]"
                )
                return default
            values[name] = float(value)
        for key in sorted(set(node) - set(TIER_NAMES[1:])):
            self.problem(_line(node, key), f"unknown tier {key!r} (tiers are watch, at_risk, critical)")
        if not values["watch"] < values["at_risk"] < values["critical"]:
            self.problem(line, "tiers not increasing: need watch < at_risk < critical")
            return default
        return Tiers(**values)


def parse_pack(text: str, file: str = "<memory>") -> tuple[RulePack | None, list[Problem]]:
    """Parse a pack from YAML text; returns the pack (None if any problem) and the problems."""
    loader = _Loader(file)
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(file, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(doc, dict):
        return None, [Problem(file, 1, "a rule pack is a mapping with 'version', 'tiers' and 'rules'")]
    for key in sorted(set(doc) - {"version", "tiers", "rules", "description"}):
        loader.problem(_line(doc, key), f"unknown top-level key {key!r}")
    version = doc.get("version", 1)
    if version != 1:
        loader.problem(_line(doc, "version") if "version" in doc else 1, f"unsupported version {version!r} (1)")
    tiers = loader.tiers(doc.get("tiers"), _line(doc, "tiers") if "tiers" in doc else 1)
    rules_node = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(rules_node, list) or not rules_node:
        loader.problem(_line(doc, "rules") if "rules" in doc else 1, "'rules' must be a non-empty list")
    else:
        seen: set[str] = set()
        for i, node in enumerate(rules_node):
            rule = loader.rule(node, _line(rules_node, i), seen)
            if rule is not None:
                rules.append(rule)
    if loader.problems:
        return None, loader.problems
    used = frozenset().union(*(r.signals for r in rules))
    return RulePack(tuple(rules), tiers, file, 1, used), []


def check_pack(path: str | Path) -> list[Problem]:
    """Every problem of the pack at ``path`` (empty when valid)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 1, f"cannot read the file: {exc}")]
    return parse_pack(text, str(path))[1]


def load_pack(path: str | Path | None = None) -> RulePack:
    """Load and validate a pack (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_PACK
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError([Problem(str(path), 1, f"cannot read the file: {exc}")]) from None
    pack, problems = parse_pack(text, str(path))
    if pack is None:
        raise PackError(problems)
    return pack
