"""What the engine is configured with (``EngineConfig``) and what it returns for an event
(``Processed``: the alerts, and the event's ``Outcome``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from rules.history import DEFAULT_LIMIT as DEFAULT_HISTORY_LIMIT
from rules.model import BuyingModel
from rules.windows import DAY


class Outcome(enum.Enum):
    """What became of an event handed to the engine."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # its event id was seen before: nothing changed


class Processed(list[dict[str, Any]]):
    """The result of ``Engine.process``/``apply``: the alerts it published (a list, in order) and
    the event's ``outcome`` (a class attribute: :class:`Duplicate` for a repeated event). No
    ``__init__`` of its own: building one (once per event) runs no Python-level code."""

    __slots__ = ()
    outcome: ClassVar[Outcome] = Outcome.APPLIED

    @property
    def duplicate(self) -> bool:
        return self.outcome is Outcome.DUPLICATE


class Duplicate(Processed):
    """What a repeated event gives: no alerts, the outcome ``DUPLICATE``."""

    __slots__ = ()
    outcome: ClassVar[Outcome] = Outcome.DUPLICATE


@dataclass(frozen=True, slots=True)
class EngineConfig:
    tick_seconds: float = 86400.0
    allowed_lateness: float = 3 * DAY
    cooldown: float = 7 * DAY
    expected_lifespan_years: float = 3.0
    lost_after_days: float = 30.0
    model: BuyingModel | None = None  # the buying model of the model signals (None: they are null)
    scan_all: bool = False  # evaluate every customer at every tick (tests: must equal the index)
    history_limit: int = DEFAULT_HISTORY_LIMIT  # history entries kept per customer (rules.history)
