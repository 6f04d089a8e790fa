"""Print alerts from the alerts topic as they arrive, one line each (the demo uses it)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from kafka import KafkaConsumer

from agents.kafka_config import kafka_python_config
from agents.settings import load_settings

COLORS = {"watch": "33", "at_risk": "35", "critical": "31", "healthy": "32"}


def format_alert(alert: dict[str, Any], color: bool) -> str:
    tier = str(alert["tier"])
    rules = ", ".join(str(r["rule"]) for r in alert.get("rules", []))
    head = f"{alert['status']:<8} {tier:<8}"
    if color:
        head = f"\x1b[{COLORS.get(tier, '0')}m{head}\x1b[0m"
    return (
        f"{alert['event_time']}  {head} {alert['customer_id']:<10} score {alert['risk_score']:>5}  "
        f"at risk {alert['revenue_at_risk']:>9}  {rules}"
    )


def main() -> None:
    settings = load_settings()
    consumer = KafkaConsumer(
        settings.topic("alerts"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_python_config(settings),
    )
    color = sys.stdout.isatty()
    try:
        for message in consumer:
            print(format_alert(orjson.loads(message.value), color), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
