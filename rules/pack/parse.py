"""A rule pack from YAML text (pure: the doors read the file, see ``agents.pack_file``)."""

from __future__ import annotations

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rules.pack.compiled import RulePack
from rules.pack.model import PACK_VERSION, TOP_KEYS, Problem, Rule
from rules.pack.validate import _Loader, _suggest
from rules.pack.yaml_nodes import _line, _show


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
