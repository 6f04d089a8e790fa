"""The compiled core (mypyc, ``make compile``) against the Python one: byte-identical output.

The same messy sample (shuffled, duplicated events, bad lines, an acknowledgement) is replayed by
``churnwatch replay`` in two subprocesses, one per core (``CHURNWATCH_CORE``); the alerts, the
report on stderr (bad lines, summary), the exit code and every customer's encoded state must be
the same bytes. The build is made here when missing (cached in ``.cache/compiled``, about a minute
the first time); a machine without mypyc, a C compiler or Python's headers skips.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agents import core, core_build
from streams.simulate import SimConfig, generate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHURNWATCH = Path(sys.executable).parent / "churnwatch"


@pytest.fixture(scope="module")
def compiled_build() -> Path:
    missing = core_build._missing_tools()
    if missing:
        pytest.skip(f"no compiled core on this machine: {missing}")
    return core_build.build()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(7)
    lines = [orjson.dumps(e) for e in generate(SimConfig(customers=600, days=50, seed=11))]
    lines += rng.sample(lines, 200)  # duplicates
    lines += [
        b'{"type":"login","event_id":"bad-1","customer_id":"c-1","ts":"yesterday"}',
        b"not json",
        b'{"type":"order","event_id":"bad-2","customer_id":"c-2","ts":1791325967,"order_id":"o","amount":"5"}',
    ]
    rng.shuffle(lines)  # not in time order: the sorting path
    first = orjson.loads(lines[0])
    ack = {"type": "acknowledgement", "customer_id": first["customer_id"], "ts": first["ts"], "by": "t", "until": "9d"}
    lines.append(orjson.dumps(ack))
    path = tmp_path_factory.mktemp("core") / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _replay(core_name: str, sample: Path, out: Path, *args: str) -> tuple[bytes, str, int, dict[bytes, bytes]]:
    from rocksdict import AccessType, Rdict

    out.mkdir()
    env = {**os.environ, "CHURNWATCH_CORE": core_name}
    argv = [
        str(CHURNWATCH),
        "replay",
        str(sample),
        "--out",
        str(out / "alerts.jsonl"),
        "--store",
        f"rocksdb://{out}/db",
    ]
    proc = subprocess.run([*argv, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert f"; {core_name} core" in proc.stderr, proc.stderr
    alerts = re.sub(rb'"emitted_at":"[^"]*"', b"", (out / "alerts.jsonl").read_bytes())  # the wall clock
    report = re.sub(r"[\d.]+ s, [\d,]+ events/s; (.*); \w+ core", r"(timing); \1", proc.stderr)
    states: dict[bytes, bytes] = {}
    for part in sorted((out / "db").iterdir()):
        db = Rdict(str(part), access_type=AccessType.read_only())
        states.update({part.name.encode() + b"/" + k: v for k, v in db.items()})
        db.close()
    return alerts, report, proc.returncode, states


@pytest.mark.parametrize("args", [(), ("--partitions", "3", "--no-final-tick")], ids=["one-clock", "partitions"])
def test_compiled_and_pure_cores_give_the_same_bytes(
    compiled_build: Path, sample: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    pure = _replay("pure", sample, tmp_path / "pure", *args)
    compiled = _replay("compiled", sample, tmp_path / "compiled", *args)
    assert pure[2] == compiled[2] == 1  # the bad lines
    assert pure[1] == compiled[1]
    assert pure[0].count(b"\n") > 100 and pure[0] == compiled[0]
    assert len(pure[3]) > 600 and pure[3] == compiled[3]


def test_a_missing_build_falls_back_to_pure_with_one_warning(sample: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CHURNWATCH_CORE": "compiled", "CHURNWATCH_CACHE_DIR": str(tmp_path / "empty")}
    argv = [str(CHURNWATCH), "replay", str(sample), "--out", os.devnull]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == ["churnwatch: warning: no compiled core is built (make compile); running the pure-Python core"]
    assert "; pure core" in proc.stderr
    env["CHURNWATCH_CORE"] = "auto"  # the default says nothing without a build
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "warning" not in proc.stderr and "; pure core" in proc.stderr


def test_a_damaged_build_is_not_loaded(compiled_build: Path, sample: Path, tmp_path: Path) -> None:
    copy = tmp_path / "compiled" / compiled_build.name
    shutil.copytree(compiled_build, copy)
    shared = next(copy.glob(f"lib/{core.GROUP}__mypyc*"))
    shared.write_bytes(shared.read_bytes()[:1000])  # loading a truncated library would crash the process
    env = {**os.environ, "CHURNWATCH_CORE": "auto", "CHURNWATCH_CACHE_DIR": str(tmp_path)}
    argv = [str(CHURNWATCH), "replay", str(sample), "--out", os.devnull]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "is damaged" in warnings[0] and "; pure core" in proc.stderr


def test_plain_imports_stay_pure() -> None:
    import rules.engine
    import streams.parse

    assert not core.is_compiled(rules.engine) and not core.is_compiled(streams.parse)
    assert core.active() == "pure"
    assert not list((ROOT / "rules").rglob("*.so")) and not list((ROOT / "streams").rglob("*.so"))
