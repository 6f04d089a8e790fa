"""Rule packs from files: the doors read the YAML, ``rules.pack.parse_pack`` validates it.

``run_check(path) -> (exit_code, text)`` is ``churnwatch rules check FILE``: for a pack with
problems, one ``file:line: reason`` line per problem (sorted by line) and a count, exit code 1;
for a valid pack a short summary (rules with weights and conditions, tiers), exit code 0.
"""

from __future__ import annotations

from pathlib import Path

from rules.pack import DEFAULT_PACK, PackError, Problem, RulePack, parse_pack


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
