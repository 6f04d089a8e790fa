"""``streams.events``: each event's hand-written ``__init__`` matches its dataclass fields (names,
order, defaults), and the events stay frozen, comparable and hashable."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from streams.events import Login, Order, Payment, SupportTicket

EVENTS = (Login, Order, Payment, SupportTicket)


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_init_takes_the_fields_with_their_defaults(cls: Any) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        want = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default == want and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, f.name


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_init_sets_every_field(cls: Any) -> None:
    fields = dataclasses.fields(cls)
    values = {f.name: f"v{i}" for i, f in enumerate(fields)}
    event = cls(**values)
    assert {f.name: getattr(event, f.name) for f in fields} == values
    assert event == cls(*values.values()) and hash(event) == hash(cls(**values))
    assert dataclasses.replace(event, event_id="other").event_id == "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.event_id = "changed"
