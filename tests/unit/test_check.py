"""`rules check`: every problem of a pack, each with its file, its line and a reason a person can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.pack_file import check_pack, load_pack, run_check
from rules.pack import DEFAULT_PACK, PackError, parse_pack
from tests.unit.helpers import HEAD


def line_of(text: str, marker: str) -> int:
    """The 1-based line holding ``# marker``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.rstrip().endswith(f"# {marker}"):
            return number
    raise AssertionError(marker)


BAD = """\
version: 1
tiers:              # tiers
  watch: 50
  at_risk: 40
  critical: 75
colour: blue        # top
rules:
  - id: a
    weight: 20
    signal: days_since_login        # signal
    op: ">="
    threshold: 1
  - id: a                           # dup
    weight: 150                     # weight
    signal: logins_7d
    op: ">="
    threshold: 1
  - id: c
    weight: 10
    signal: logins_7d
    op: "=~"                        # op
    threshold: 1
  - id: d
    weight: 10
    signal: logins_7d
    op: ">="
    threshold: 2
    when: "logins_7d >= "           # syntax
  - id: e
    weight: 10
    signal: logins_7d
    op: ">="
    threshold: 2
    when: "mystery > 1"             # unknown-var
  - id: f                           # missing-op
    weight: 10
    signal: logins_7d
    threshold: 2
    colour: red                     # rule-key
  - id: g
    weight: 10
    signal: subscription_status
    op: "=="
    threshold: canceled             # typo-value
  - id: h
    weight: 10
    signal: last_nps
    op: "<="
    threshold: "6"                  # string-number
  - id: i
    weight: 10
    signal: subscription_status
    op: in
    threshold: paused               # not-a-list
  - id: j
    weight: 10
    signal: last_nps
    op: "<="
    threshold: 6
    reason: "NPS {nps}"             # placeholder
  - id: k
    weight: 10
    signal: last_nps
    op: "<="
    threshold: 6
    when: "subscription_status > 3"  # type-error
  - id: l
    weight: 10
    signal: last_nps
    op: "<="
    threshold: 6
    when: "last_nps + 1"            # not-bool
  - id: m
    weight: 10
    any:
      - {signal: payment_failures_30d, op: ">=", threshold: 2, extra: 1}  # any-key
      - {signal: consecutive_payment_failures, op: ">=", threshold: x}   # any-threshold
  - weight: 10                      # no-id
    signal: last_nps
    op: "<="
    threshold: 6
  - id: n                           # no-weight
    signal: last_nps
    op: "<="
  - id: o
    weight: 10
    expr: "logins_7d == 0 && days_since_last_login >= 20"
    signal: last_nps                # expr-signal
    threshold: 20
  - id: p
    weight: true                    # bool-weight
    signal: last_nps
    op: "<="
    threshold: 6
"""


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, str]]]:
    path = tmp_path_factory.mktemp("packs") / "bad.yaml"
    path.write_text(BAD)
    found = check_pack(path)
    assert all(p.file == str(path) for p in found)
    assert [p.line for p in found] == sorted(p.line for p in found), "sorted by line"
    return path, [(p.line, p.reason) for p in found]


KINDS = [
    ("tiers", "tiers not increasing: need watch < at_risk < critical, got 50, 40, 75"),
    ("top", "unknown top-level key 'colour'"),
    ("signal", "rule 'a': unknown signal 'days_since_login' (did you mean 'days_since_last_login'?)"),
    ("dup", "duplicate rule id 'a'"),
    ("weight", "weight must be a number in 0..100, got 150"),
    ("op", "rule 'c': unknown op '=~' (one of >= > <= < == != in not_in)"),
    ("syntax", "rule 'd': bad expression in 'when': Syntax error"),
    ("unknown-var", "rule 'e': bad expression in 'when': unknown signal(s) mystery"),
    ("missing-op", "rule 'f': missing 'op'"),
    ("rule-key", "rule 'f': unknown key 'colour'"),
    (
        "typo-value",
        "'subscription_status' is never 'canceled' (it is one of active, cancelled, downgraded, none, paused)",
    ),
    ("string-number", "rule 'h': signal 'last_nps' is a number; threshold '6' is not"),
    ("not-a-list", "rule 'i': op 'in' needs a non-empty list as threshold"),
    ("placeholder", "rule 'j': reason uses {nps}; the placeholders are"),
    ("type-error", "rule 'k': bad expression in 'when': type error"),
    ("not-bool", "rule 'l': bad expression in 'when': must be true or false"),
    ("any-key", "rule 'm': unknown key 'extra' in an 'any' comparison"),
    ("any-threshold", "rule 'm': signal 'consecutive_payment_failures' is a number; threshold 'x' is not"),
    ("no-id", "rule without an 'id'"),
    ("no-weight", "rule 'n': missing 'weight'"),
    ("no-weight", "rule 'n': missing 'threshold'"),
    ("expr-signal", "rule 'o': signal 'last_nps' is not used in the 'expr'"),
    ("bool-weight", "rule 'p': weight must be a number in 0..100, got True"),
]


@pytest.mark.parametrize(("marker", "reason"), KINDS)
def test_each_problem_is_reported_on_its_line(
    problems: tuple[Path, list[tuple[int, str]]], marker: str, reason: str
) -> None:
    _, found = problems
    line = line_of(BAD, marker)
    assert any(at == line and reason in text for at, text in found), f"line {line}: {reason!r} not in {found}"


def test_every_problem_at_once_and_nothing_else(problems: tuple[Path, list[tuple[int, str]]]) -> None:
    _, found = problems
    assert len(found) == len(KINDS)


def test_load_raises_with_a_readable_message(problems: tuple[Path, list[tuple[int, str]]]) -> None:
    path, found = problems
    with pytest.raises(PackError) as info:
        load_pack(path)
    assert len(info.value.problems) == len(found)
    message = str(info.value)
    assert message.splitlines()[0] == "invalid rule pack:"
    assert f"{path}:{line_of(BAD, 'dup')}: duplicate rule id 'a'" in message


def test_run_check_exit_codes_and_text(problems: tuple[Path, list[tuple[int, str]]]) -> None:
    path, found = problems
    code, text = run_check(path)
    assert code == 1
    lines = text.splitlines()
    assert lines[: len(found)] == [f"{path}:{line}: {reason}" for line, reason in found]
    assert lines[-1] == f"{path}: {len(found)} problems, the pack was not loaded"
    code, text = run_check(DEFAULT_PACK)
    assert code == 0
    assert "OK, version 1, 15 rules" in text and "healthy < 25 <= watch < 50 <= at_risk < 75 <= critical" in text
    assert "login_inactivity" in text and "weight  35" in text and "when logins_total >= 3" in text


def test_file_level_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert run_check(missing)[0] == 1 and "cannot read the file" in run_check(missing)[1]
    with pytest.raises(PackError):
        load_pack(missing)
    cases = {
        "rules: [\n": (2, "not valid YAML"),
        "- a\n- b\n": (1, "a rule pack is a mapping"),
        "version: 1\nversion: 2\n": (2, "not valid YAML"),  # duplicate key
        HEAD.replace("version: 1", "version: 2")
        + "  - {id: a, weight: 1, signal: last_nps, op: '<=', threshold: 6}\n": (
            1,
            "unsupported version 2 (expected 1)",
        ),
        HEAD: (3, "'rules' must be a non-empty list"),
        "tiers: {watch: 25, at_risk: 50, critical: 75}\nrules: []\n": (1, "missing 'version'"),
        "version: 1\nrules: []\n": (1, "missing 'tiers'"),
        "version: 1\ntiers: {watch: 25, critical: 75, severe: 90}\nrules: []\n": (2, "tiers: missing 'at_risk'"),
        "version: 1\ntiers: {watch: 0, at_risk: 50, critical: 75}\nrules: []\n": (2, "tiers: watch must be a score"),
    }
    for text, (line, reason) in cases.items():
        _, found = parse_pack(text, "p.yaml")
        assert any(p.line == line and reason in p.reason for p in found), (text, found)
    _, found = parse_pack("version: 1\ntiers: {watch: 25, critical: 75, severe: 90}\nrules: []\n", "p.yaml")
    assert any("unknown tier 'severe'" in p.reason for p in found)


def test_rule_shape_problems() -> None:
    def reasons(rule: str) -> list[str]:
        _, found = parse_pack(HEAD + rule, "p.yaml")
        return [p.reason for p in found]

    assert reasons("  - just a string\n") == ["each rule must be a mapping with id, weight, signal, op, threshold"]
    assert "give either 'any' or signal/op/threshold, not both" in " ".join(
        reasons("  - {id: a, weight: 1, signal: last_nps, any: [{signal: last_nps, op: '<=', threshold: 6}]}\n")
    )
    assert "'any' must be a non-empty list" in " ".join(reasons("  - {id: a, weight: 1, any: []}\n"))
    assert "'op' is not used with 'expr'" in " ".join(
        reasons("  - {id: a, weight: 1, expr: 'last_nps <= 6', op: '<=', signal: last_nps, threshold: 6}\n")
    )
    assert "still names the 'threshold'" in " ".join(
        reasons("  - {id: a, weight: 1, expr: 'last_nps <= 6', signal: last_nps}\n")
    )
    assert "is text: compare it with ==, !=, in or not_in" in " ".join(
        reasons("  - {id: a, weight: 1, signal: subscription_status, op: '>=', threshold: paused}\n")
    )
    assert "a list threshold needs op 'in' or 'not_in'" in " ".join(
        reasons("  - {id: a, weight: 1, signal: last_nps, op: '==', threshold: [1, 2]}\n")
    )
    assert "rule id 'has space' must be a name" in " ".join(
        reasons("  - {id: has space, weight: 1, signal: last_nps, op: '<=', threshold: 6}\n")
    )
    assert "'when' must be a CEL expression" in " ".join(
        reasons("  - {id: a, weight: 1, signal: last_nps, op: '<=', threshold: 6, when: 3}\n")
    )


def test_the_default_pack_passes() -> None:
    assert check_pack(DEFAULT_PACK) == []
