"""CloudEvents 1.0 attributes of an alert (binary content mode: the body stays the alert JSON).

On Kafka (the alerts topic) the attributes are headers ``ce_<name>`` plus ``content-type``
(CloudEvents Kafka protocol binding); over HTTP (``churnwatch notify``) they are ``ce-<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "io.churnwatch.alert."  # + status: firing, resolved


def source_of(app_id: str) -> str:
    """``ce_source``: a URI reference naming the churnwatch deployment that decided the alert."""
    return f"/churnwatch/{app_id}"


def attributes(alert: Mapping[str, Any], source: str) -> dict[str, str]:
    return {
        "specversion": SPECVERSION,
        "id": str(alert["alert_id"]),
        "source": source,
        "type": TYPE_PREFIX + str(alert["status"]),
        "time": str(alert.get("emitted_at") or alert["event_time"]),
        "subject": str(alert["customer_id"]),
    }


def kafka_headers(alert: Mapping[str, Any], source: str) -> list[tuple[str, bytes]]:
    headers = [(f"ce_{k}", v.encode()) for k, v in attributes(alert, source).items()]
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return headers


def http_headers(alert: Mapping[str, Any], source: str) -> dict[str, str]:
    return {f"ce-{k}": v for k, v in attributes(alert, source).items()}
