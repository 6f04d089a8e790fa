"""The AsyncAPI document of every topic churnwatch reads and writes, generated from the code's own
models: the input events (:mod:`streams.events`, with the rules of :mod:`streams.parse`), the alert
and dead-letter records (:mod:`streams.records`) and the CloudEvents headers of
:mod:`streams.cloudevents`.

``python -m agents.asyncapi`` writes ``deploy/asyncapi.yaml``; ``--check`` exits 1 when the file
differs from what the code gives (a test runs the same check).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, get_type_hints

from ruamel.yaml import YAML

from streams import cloudevents, parse
from streams.events import EventType, Login, Order, Payment, SupportTicket
from streams.records import Alert, AlertChanges, DeadLetter, NotifyDeadLetter, RuleHit

OUT = Path(__file__).resolve().parent.parent / "deploy" / "asyncapi.yaml"

# the rules of contract section 2 that the dataclasses' types do not say (streams/parse.py enforces them)
FIELD_RULES: dict[str, dict[str, Any]] = {
    "event_id": {"minLength": 1, "maxLength": 128},
    "customer_id": {"minLength": 1, "maxLength": 128},
    "ts": {
        "oneOf": [
            {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset"},
            {"type": "number", "description": "epoch seconds"},
        ]
    },
    "channel": {"enum": sorted(parse.CHANNELS)},
    "session_seconds": {"minimum": 0},
    "amount": {"minimum": 0},
    "currency": {"pattern": "^[A-Z]{3}$"},
    "items": {"minimum": 0},
    "kind": {"enum": sorted(parse.PAYMENT_KINDS)},
    "plan": {"maxLength": 256},
    "category": {"maxLength": 256},
    "priority": {"enum": sorted(parse.PRIORITIES)},
    "sentiment": {"minimum": -1, "maximum": 1},
    "csat": {"minimum": 1, "maximum": 5},
    "nps": {"minimum": 0, "maximum": 10},
}
STATUS_RULES = {"order": sorted(parse.ORDER_STATUSES), "payment": sorted(parse.PAYMENT_STATUSES)}
ACTION_RULES = {"payment": sorted(parse.SUBSCRIPTION_ACTIONS), "support_ticket": sorted(parse.TICKET_ACTIONS)}
DEFAULTED = {"currency"}  # required in the model, defaulted from CHURNWATCH_DEFAULT_CURRENCY on the wire
EVENTS = {
    EventType.LOGIN: (Login, "logins"),
    EventType.ORDER: (Order, "orders"),
    EventType.PAYMENT: (Payment, "payments"),
    EventType.SUPPORT_TICKET: (SupportTicket, "support-tickets"),
}


def type_schema(hint: Any) -> dict[str, Any]:
    """JSON Schema of a Python type: str, int, float, bool, Any, None, Literal, list, dict, unions, TypedDicts."""
    origin = get_origin(hint)
    if hint is Any:
        return {}
    if hint is type(None):
        return {"type": "null"}
    if origin is NotRequired:
        return type_schema(get_args(hint)[0])
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (Union, types.UnionType):
        return {"anyOf": [type_schema(a) for a in get_args(hint)]}
    if origin is list:
        return {"type": "array", "items": type_schema(get_args(hint)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": type_schema(get_args(hint)[1])}
    if typing.is_typeddict(hint):
        return {"$ref": f"#/components/schemas/{hint.__name__}"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if hint in simple:
        return {"type": simple[hint]}
    raise TypeError(f"no JSON Schema for {hint!r}")


def record_schema(cls: Any) -> dict[str, Any]:
    """A TypedDict as a closed JSON object."""
    hints = get_type_hints(cls, include_extras=True)
    # (with postponed annotations, __required_keys__ does not see NotRequired: the hints do)
    required = [name for name, hint in hints.items() if get_origin(hint) is not NotRequired]
    return {
        "type": "object",
        "description": " ".join((cls.__doc__ or "").split()),
        "properties": {name: type_schema(hint) for name, hint in hints.items()},
        "required": required,
        "additionalProperties": False,
    }


def event_schema(etype: str, cls: Any) -> dict[str, Any]:
    """An input event on the wire: the dataclass's fields, the rules of streams/parse.py; other fields
    are allowed and ignored."""
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        optional = type(None) in get_args(hint)
        base = next((a for a in get_args(hint) if a is not type(None)), hint) if optional else hint
        prop: dict[str, Any] = {} if f.name == "ts" else type_schema(base)
        prop.update(copy.deepcopy(FIELD_RULES.get(f.name, {})))
        if f.name == "status" and etype in STATUS_RULES:
            prop["enum"] = STATUS_RULES[etype]
        if f.name == "action" and etype in ACTION_RULES:
            prop["enum"] = ACTION_RULES[etype]
        if f.name in ("order_id", "ticket_id"):
            prop.update(minLength=1, maxLength=128)
        properties[f.name] = prop
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if not optional and not has_default and f.name not in DEFAULTED:
            required.append(f.name)
    schema: dict[str, Any] = {
        "type": "object",
        "description": f"{'an' if etype[0] in 'aeiou' else 'a'} {etype} event (contract section 2); "
        "other fields are ignored",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }
    if etype == "payment":  # money kinds need amount and status; subscriptions an action
        schema["if"] = {"properties": {"kind": {"const": "subscription"}}, "required": ["kind"]}
        schema["then"] = {"required": ["action"]}
        schema["else"] = {"required": ["amount", "status"]}
    return schema


def _channel(address: str, message: str, description: str) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
    }


def _key(description: str) -> dict[str, Any]:
    return {"kafka": {"bindingVersion": "0.5.0", "key": {"type": "string", "description": description}}}


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for etype, (cls, topic) in EVENTS.items():
        name = cls.__name__
        schemas[name] = event_schema(str(etype), cls)
        messages[name] = {
            "name": name,
            "contentType": "application/json",
            "summary": f'a {etype} event; `churnwatch replay` reads the same with "type": "{etype}"',
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": _key("customer_id (UTF-8); must equal the payload's customer_id"),
        }
        channels[topic] = _channel(
            topic,
            name,
            f"input; co-partitioned by customer_id with the other three (CHURNWATCH_TOPIC_PREFIX + "
            f"CHURNWATCH_TOPIC_{topic.replace('-', '_').upper()})",
        )
        operations[f"receive-{topic}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{topic}"}}
    for cls in (RuleHit, AlertChanges, Alert, DeadLetter, NotifyDeadLetter):
        schemas[cls.__name__] = record_schema(cls)
    names = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
    ce: dict[str, dict[str, Any]] = {k: {"type": "string"} for k in names}
    ce["ce_specversion"] = {"const": cloudevents.SPECVERSION}
    ce["ce_type"] = {"enum": [cloudevents.TYPE_PREFIX + s for s in ("firing", "resolved")]}
    ce["ce_id"]["description"] = "= alert_id"
    ce["ce_subject"]["description"] = "= customer_id"
    ce["ce_source"]["description"] = "/churnwatch/<CHURNWATCH_APP_ID>"
    ce["ce_time"]["description"] = "= emitted_at"
    ce["content-type"] = {"const": cloudevents.CONTENT_TYPE}
    messages["Alert"] = {
        "name": "Alert",
        "contentType": "application/json",
        "summary": "a firing or resolved alert (contract section 6); CloudEvents binary content mode",
        "headers": {"type": "object", "properties": ce, "required": list(ce)},
        "payload": {"$ref": "#/components/schemas/Alert"},
        "bindings": _key("customer_id"),
    }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "contentType": "application/json",
        "summary": "bad input with the reason (contract section 7)",
        "payload": {"$ref": "#/components/schemas/DeadLetter"},
        "bindings": _key("the original message's key"),
    }
    messages["NotifyDeadLetter"] = {
        "name": "NotifyDeadLetter",
        "contentType": "application/json",
        "summary": "an alert churnwatch notify could not deliver, with the reason",
        "payload": {"$ref": "#/components/schemas/NotifyDeadLetter"},
        "bindings": _key("customer_id (none for a digest)"),
    }
    channels["alerts"] = _channel("alerts", "Alert", "output of the worker; input of churnwatch notify")
    channels["dead-letters"] = _channel("dead-letters", "DeadLetter", "output of the worker: bad input")
    channels["notify-dead-letters"] = _channel(
        "notify-dead-letters", "NotifyDeadLetter", "output of churnwatch notify: deliveries given up"
    )
    channels["customer-state-changelog"] = {
        "address": "{appId}-customer_state-changelog",
        "description": "the worker's state (Faust table changelog, compacted): the encoded per-customer state "
        "of rules/state.py, each partition's clock and handled input offsets; internal, read only by workers",
        "parameters": {"appId": {"description": "CHURNWATCH_APP_ID"}},
        "messages": {"StateRecord": {"$ref": "#/components/messages/StateRecord"}},
    }
    messages["StateRecord"] = {
        "name": "StateRecord",
        "contentType": "application/octet-stream",
        "summary": "opaque, versioned encoding (not an interface)",
        "payload": {"type": "string", "format": "binary"},
    }
    operations["send-alerts"] = {"action": "send", "channel": {"$ref": "#/channels/alerts"}}
    operations["send-dead-letters"] = {"action": "send", "channel": {"$ref": "#/channels/dead-letters"}}
    operations["receive-alerts-notify"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/alerts"},
        "summary": "churnwatch notify (consumer group CHURNWATCH_NOTIFY_GROUP)",
    }
    operations["send-notify-dead-letters"] = {"action": "send", "channel": {"$ref": "#/channels/notify-dead-letters"}}
    operations["send-receive-changelog"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/customer-state-changelog"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "churnwatch",
            "version": "1",
            "description": "Every Kafka topic churnwatch reads and writes. Generated by `python -m agents.asyncapi` "
            "from streams/events.py, streams/parse.py, streams/records.py and streams/cloudevents.py; do not edit. "
            "Topic names are the defaults: CHURNWATCH_TOPIC_PREFIX and CHURNWATCH_TOPIC_* change them.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render() -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096
    out = io.StringIO()
    out.write("# Generated by `python -m agents.asyncapi` from the code's models: do not edit (README: Topics).\n")
    yaml.dump(document(), out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is not what the code gives: run python -m agents.asyncapi", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
