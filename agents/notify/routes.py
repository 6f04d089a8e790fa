"""The routing file of ``churnwatch notify``: which alerts go to which webhook, in which shape.

```yaml
routes:
  - name: crm                      # letters, digits, - and _; the metrics' route label
    url: ${CRM_WEBHOOK_URL}        # ${VAR} is read from the environment (never printed)
    format: json                   # json (the alert itself) or chat ({"text": ...}: Slack, Mattermost)
    headers: {Authorization: "Bearer ${CRM_TOKEN}"}
    match: {status: [firing], tier: [at_risk, critical], rule: [chargeback]}   # all optional
    digest_seconds: 0              # > 0: one message per interval summing the alerts
    timeout_seconds: 10            # per attempt (default CHURNWATCH_NOTIFY_TIMEOUT_SECONDS)
    max_attempts: 6                # (default CHURNWATCH_NOTIFY_MAX_ATTEMPTS)
```

``match``: every key given must match; a key's value is one item or a list (any of them);
``rule`` matches when any of the alert's firing rules is listed. No ``match``: every alert.
The URL and every header value are secrets: a :class:`Redactor` knows them, and every message
that could carry them (errors, logs, dead letters) goes through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

FORMATS = ("json", "chat")
MATCH_KEYS = {"status": ("firing", "resolved"), "tier": ("healthy", "watch", "at_risk", "critical"), "rule": ()}
ROUTE_KEYS = {"name", "url", "format", "headers", "match", "digest_seconds", "timeout_seconds", "max_attempts"}
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RoutesError(ValueError):
    """A routing file that cannot be used; the message lists ``file:line: reason`` per problem."""


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    format: str = "json"
    headers: Mapping[str, str] = field(default_factory=dict)
    match: Mapping[str, frozenset[str]] = field(default_factory=dict)
    digest_seconds: float = 0.0
    timeout_seconds: float | None = None
    max_attempts: int | None = None

    def matches(self, alert: Mapping[str, Any]) -> bool:
        for key, wanted in self.match.items():
            if key == "rule":
                if not any(str(hit.get("rule")) in wanted for hit in alert.get("rules") or ()):
                    return False
            elif str(alert.get(key)) not in wanted:
                return False
        return True

    @property
    def where(self) -> str:
        """The URL without its secrets: scheme and host only."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}/…"

    def __repr__(self) -> str:  # never the URL or the headers
        return f"Route(name={self.name!r}, where={self.where!r}, format={self.format!r})"


class Redactor:
    """Replaces every known secret (URLs, header values, the values of ${VAR} references) by ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 4:
            self.secrets.add(secret)
            parts = urlsplit(secret)
            if parts.scheme and parts.netloc:  # a URL: its path, query and credentials are secrets too
                for piece in (parts.path, parts.query, parts.password or "", parts.username or ""):
                    if len(piece) >= 4 and piece != "/":
                        self.secrets.add(piece)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class Routes:
    routes: tuple[Route, ...]
    redactor: Redactor
    file: Path

    def for_alert(self, alert: Mapping[str, Any]) -> list[Route]:
        return [r for r in self.routes if r.matches(alert)]


def _line(node: Any, key: Any = None) -> int:
    try:
        if key is not None:
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _expand(text: str, env: Mapping[str, str], missing: list[str], redactor: Redactor) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            missing.append(name)
            return ""
        redactor.add(env[name])
        return env[name]

    return ENV_REF.sub(sub, text)


def load_routes(file: Path, env: Mapping[str, str] | None = None) -> Routes:
    """Read and check a routing file; :class:`RoutesError` lists every problem (without secrets)."""
    env = os.environ if env is None else env
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutesError(f"{file}: cannot read the routing file: {exc.strerror or exc}") from None
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RoutesError(
            f"{file}:{(mark.line + 1) if mark else 0}: not YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    problems: list[str] = []
    redactor = Redactor()

    def bad(line: int, reason: str) -> None:
        problems.append(f"{file}:{line}: {reason}")

    if not isinstance(doc, Mapping) or not isinstance(doc.get("routes"), list) or not doc["routes"]:
        raise RoutesError(f"{file}:1: a routing file is a mapping with a non-empty list `routes:`")
    routes: list[Route] = []
    names: set[str] = set()
    for i, item in enumerate(doc["routes"]):
        try:
            line = int(doc["routes"].lc.item(i)[0]) + 1
        except (AttributeError, KeyError, TypeError, IndexError):
            line = 0
        if not isinstance(item, Mapping):
            bad(line, f"route {i + 1}: a route is a mapping (name, url, ...)")
            continue
        for key in item:
            if key not in ROUTE_KEYS:
                bad(_line(item, key), f"route {i + 1}: unknown key {key!r} (one of {', '.join(sorted(ROUTE_KEYS))})")
        name = str(item.get("name", ""))
        if not NAME.match(name):
            bad(_line(item, "name") or line, f"route {i + 1}: `name` must be 1-64 letters, digits, - or _")
        elif name in names:
            bad(_line(item, "name"), f"route {name!r}: the name is used twice")
        names.add(name)
        missing: list[str] = []
        url = _expand(str(item.get("url", "")), env, missing, redactor)
        redactor.add(url)
        headers: dict[str, str] = {}
        raw_headers = item.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            bad(_line(item, "headers"), f"route {name!r}: `headers` is a mapping of header names to values")
            raw_headers = {}
        for hname, hvalue in raw_headers.items():
            value = _expand(str(hvalue), env, missing, redactor)
            redactor.add(value)
            headers[str(hname)] = value
        for var in dict.fromkeys(missing):
            bad(line, f"route {name!r}: environment variable {var} is not set")
        parts = urlsplit(url)
        if not missing and (parts.scheme not in ("http", "https") or not parts.hostname):
            bad(_line(item, "url") or line, f"route {name!r}: `url` must be an http:// or https:// URL")
        fmt = str(item.get("format", "json"))
        if fmt not in FORMATS:
            bad(_line(item, "format"), f"route {name!r}: `format` must be one of {', '.join(FORMATS)}, not {fmt!r}")
        match: dict[str, frozenset[str]] = {}
        raw_match = item.get("match") or {}
        if not isinstance(raw_match, Mapping):
            bad(_line(item, "match"), f"route {name!r}: `match` is a mapping (status, tier, rule)")
            raw_match = {}
        for key, wanted in raw_match.items():
            values = [str(v) for v in (wanted if isinstance(wanted, list) else [wanted])]
            allowed = MATCH_KEYS.get(str(key))
            if allowed is None:
                bad(_line(raw_match, key), f"route {name!r}: unknown match key {key!r} (status, tier or rule)")
                continue
            unknown = [v for v in values if allowed and v not in allowed]
            if unknown or not values:
                bad(_line(raw_match, key), f"route {name!r}: match.{key} must be among {', '.join(allowed)}")
            match[str(key)] = frozenset(values)
        numbers: dict[str, float | None] = {}
        for num_key, low in (("digest_seconds", 0.0), ("timeout_seconds", 0.01), ("max_attempts", 1.0)):
            number = item.get(num_key)
            if number is None:
                numbers[num_key] = None
                continue
            if isinstance(number, bool) or not isinstance(number, int | float) or number < low:
                bad(_line(item, num_key), f"route {name!r}: `{num_key}` must be a number >= {low:g}")
                numbers[num_key] = None
            else:
                numbers[num_key] = float(number)
        routes.append(
            Route(
                name=name,
                url=url,
                format=fmt,
                headers=headers,
                match=match,
                digest_seconds=numbers["digest_seconds"] or 0.0,
                timeout_seconds=numbers["timeout_seconds"],
                max_attempts=int(numbers["max_attempts"]) if numbers["max_attempts"] is not None else None,
            )
        )
    if problems:
        raise RoutesError(redactor("\n".join(problems)))
    return Routes(tuple(routes), redactor, file)
