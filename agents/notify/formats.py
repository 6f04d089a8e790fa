"""What a webhook receives: the alert itself (``json``), a chat message (``chat``), or a digest.

``json``: the body is the alert exactly as on the alerts topic (contract section 6), with
CloudEvents HTTP headers (binary mode: ``ce-id`` = ``alert_id``). ``chat``: ``{"text": ...}``,
the incoming-webhook shape Slack and Mattermost accept (Markdown-ish ``*bold*``).
A digest sums the alerts of one interval: counts by status and tier, and the first
``DIGEST_LINES`` alerts, one line each (``json``: a ``churnwatch.alert.digest`` object).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

DIGEST_LINES = 20
ICONS = {"watch": ":large_yellow_circle:", "at_risk": ":large_orange_circle:", "critical": ":red_circle:"}


def _rules(alert: Mapping[str, Any]) -> str:
    return ", ".join(str(r.get("rule")) for r in alert.get("rules") or ()) or "no rule"


def chat_text(alert: Mapping[str, Any]) -> str:
    cid, tier, prev = alert.get("customer_id"), alert.get("tier"), alert.get("previous_tier")
    if alert.get("status") == "resolved":
        score = alert.get("risk_score")
        return f":white_check_mark: churnwatch: customer *{cid}* is healthy again (was {prev}), score {score}"
    icon = ICONS.get(str(tier), ":warning:")
    lines = [
        f"{icon} churnwatch: customer *{cid}* is *{tier}* (was {prev}), score {alert.get('risk_score')}, "
        f"revenue at risk {alert.get('revenue_at_risk')}"
    ]
    for hit in alert.get("rules") or ():
        lines.append(f"• {hit.get('rule')}: {hit.get('reason')}")
    return "\n".join(lines)


def alert_line(alert: Mapping[str, Any]) -> str:
    return (
        f"{alert.get('status')} {alert.get('tier')} {alert.get('customer_id')} score {alert.get('risk_score')} "
        f"at risk {alert.get('revenue_at_risk')} ({_rules(alert)})"
    )


def body(fmt: str, alert: Mapping[str, Any]) -> bytes:
    if fmt == "chat":
        return orjson.dumps({"text": chat_text(alert)})
    return orjson.dumps(alert)


def digest_key(alerts: Sequence[Mapping[str, Any]]) -> str:
    """The idempotency key of a digest: the same alerts give the same key."""
    ids = sorted(str(a.get("alert_id")) for a in alerts)
    return "digest-" + hashlib.sha256(orjson.dumps(ids)).hexdigest()[:32]


def digest_body(fmt: str, route: str, alerts: Sequence[Mapping[str, Any]], seconds: float) -> bytes:
    counts = Counter(f"{a.get('status')} {a.get('tier')}" for a in alerts)
    rules = Counter(str(r.get("rule")) for a in alerts if a.get("status") == "firing" for r in a.get("rules") or ())
    shown = list(alerts[:DIGEST_LINES])
    if fmt == "chat":
        head = f"churnwatch digest ({route}): {len(alerts)} alert(s) in the last {seconds:g} s — " + ", ".join(
            f"{k} {v}" for k, v in sorted(counts.items())
        )
        lines = [head, *(f"• {alert_line(a)}" for a in shown)]
        if len(alerts) > len(shown):
            lines.append(f"… and {len(alerts) - len(shown)} more")
        return orjson.dumps({"text": "\n".join(lines)})
    return orjson.dumps(
        {
            "type": "churnwatch.alert.digest",
            "route": route,
            "interval_seconds": seconds,
            "count": len(alerts),
            "by_status_tier": dict(sorted(counts.items())),
            "by_rule": dict(rules.most_common()),
            "alert_ids": [a.get("alert_id") for a in alerts],
            "alerts": shown,
        }
    )
