"""Where a YAML node is (its line) and what it holds as plain Python values."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq


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
