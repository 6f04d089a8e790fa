"""``churnwatch rules check FILE``: validate a rule pack and say what is wrong, or what it holds.

``run_check(path) -> (exit_code, text)``: for a pack with problems, one ``file:line: reason`` line
per problem (sorted by line) and a count, exit code 1; for a valid pack a short summary (rules
with weights and conditions, tiers), exit code 0. The CLI prints the text (to stderr on failure).
"""

from __future__ import annotations

from pathlib import Path

from rules.pack import check_pack, load_pack


def _num(value: float) -> str:
    return f"{value:g}"


def run_check(path: str | Path) -> tuple[int, str]:
    """Validate the pack at ``path``: ``(0, summary)`` when valid, ``(1, problems)`` otherwise."""
    problems = check_pack(path)
    if problems:
        lines = [str(p) for p in problems]
        lines.append(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}, the pack was not loaded")
        return 1, "\n".join(lines)
    pack = load_pack(path)
    t = pack.tiers
    width = max(len(r.id) for r in pack.rules)
    count = f"{len(pack.rules)} rule{'s' if len(pack.rules) != 1 else ''}"
    lines = [
        f"{path}: OK, version {pack.version}, {count}; tiers: healthy < {_num(t.watch)} <= watch"
        f" < {_num(t.at_risk)} <= at_risk < {_num(t.critical)} <= critical",
    ]
    for rule in pack.rules:
        lines.append(f"  {rule.id:<{width}}  weight {_num(rule.weight):>3}  {rule.describe()}")
    return 0, "\n".join(lines)
