"""Synthetic traffic: healthy and churning customers over the four event types.

Deterministic for a seed, streamed day by day in event-time order (memory stays flat however
long the run). Personas set how often a customer logs in and orders; a share of customers
churns in one of four ways from an onset day in the last part of the period:

- ``fading_logins``: logins thin out to nothing, orders stop;
- ``failed_payments``: renewals fail again and again, sometimes a chargeback;
- ``angry_tickets``: a burst of urgent tickets left open, negative sentiment, a low NPS;
- ``pauses``: the subscription is paused, downgraded or cancelled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.timefmt import format_ts

DAY = 86400
CHURN_KINDS = ("fading_logins", "failed_payments", "angry_tickets", "pauses")
DEFAULT_END = 1793491200.0  # 2026-11-01T00:00:00Z; the CLI uses "now" when producing to Kafka


@dataclass(frozen=True, slots=True)
class SimConfig:
    customers: int = 1000
    days: int = 60
    end: float = DEFAULT_END  # the period ends here (exclusive); it starts `days` before
    seed: int = 42
    churn_share: float = 0.15
    churn_kinds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CHURN_KINDS, 1.0))
    customer_prefix: str = "c-"

    @property
    def start(self) -> float:
        return math.floor(self.end / DAY) * DAY - self.days * DAY


@dataclass(slots=True)
class _Customer:
    cid: str
    login_p: float  # chance of a login on an active weekday
    weekdays: frozenset[int]
    logins_per_day: float
    order_gap: float  # mean days between orders
    order_amount: float
    subscribed: bool
    renewal_day: int
    churn: str | None
    onset: int
    ticket_p: float
    orders: int = 0
    tickets: int = 0
    open_tickets: list[tuple[str, int]] = field(default_factory=list)
    next_order: float = 0.0


PERSONAS = (  # (weight, active weekdays, logins per active day, order gap days, amount)
    (0.35, 7, 1.6, 9.0, 45.0),
    (0.40, 3, 1.2, 16.0, 70.0),
    (0.25, 1, 1.0, 35.0, 120.0),
)


_Emit = Callable[..., None]


class _Generator:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.seq = 0
        kinds = [(k, w) for k, w in cfg.churn_kinds.items() if w > 0]
        total = sum(w for _, w in kinds) or 1.0
        self.customers = [self._customer(i, kinds, total) for i in range(cfg.customers)]

    def _customer(self, i: int, kinds: list[tuple[str, float]], total: float) -> _Customer:
        rng, cfg = self.rng, self.cfg
        roll, acc = rng.random(), 0.0
        persona = PERSONAS[-1]
        for p in PERSONAS:
            acc += p[0]
            if roll < acc:
                persona = p
                break
        churn = None
        if kinds and rng.random() < cfg.churn_share:
            pick, acc = rng.random() * total, 0.0
            for k, w in kinds:
                acc += w
                if pick < acc:
                    churn = k
                    break
        onset = int(cfg.days * rng.uniform(0.45, 0.8))
        c = _Customer(
            cid=f"{cfg.customer_prefix}{i}",
            login_p=rng.uniform(0.94, 0.995),
            weekdays=frozenset(rng.sample(range(7), int(persona[1]))),
            logins_per_day=persona[2],
            order_gap=persona[3] * rng.uniform(0.7, 1.3),
            order_amount=persona[4] * rng.uniform(0.6, 1.6),
            subscribed=rng.random() < 0.7,
            renewal_day=rng.randrange(30),
            churn=churn,
            onset=onset,
            ticket_p=rng.uniform(0.003, 0.02),
        )
        c.next_order = rng.uniform(0.0, c.order_gap)
        return c

    def _event(self, etype: str, c: _Customer, ts: float, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {
            "type": etype,
            "event_id": f"e{self.cfg.seed}-{self.seq}",
            "customer_id": c.cid,
            "ts": format_ts(ts),
            **fields,
        }

    def day(self, d: int) -> list[tuple[float, int, dict[str, Any]]]:
        """One day of every customer's events, in time order (equal times in emission order)."""
        day0 = self.cfg.start + d * DAY
        out: list[tuple[float, int, dict[str, Any]]] = []

        def emit(etype: str, c: _Customer, ts: float, **fields: Any) -> None:
            ev = self._event(etype, c, math.floor(ts), **fields)
            out.append((math.floor(ts), self.seq, ev))

        for c in self.customers:
            churning = c.churn is not None and d >= c.onset
            self._logins(c, d, day0, churning, emit)
            self._orders(c, d, day0, churning, emit)
            self._payments(c, d, day0, churning, emit)
            self._tickets(c, d, day0, churning, emit)
        out.sort(key=lambda item: (item[0], item[1]))
        return out

    def _logins(self, c: _Customer, d: int, day0: float, churning: bool, emit: _Emit) -> None:
        """Logins on the customer's weekdays; fading away after a fading_logins onset."""
        rng = self.rng
        fade = 1.0
        if churning and c.churn == "fading_logins":
            fade = max(0.0, 1.0 - (d - c.onset) / 6.0)
        if d % 7 in c.weekdays and rng.random() < c.login_p * fade:
            n = 1 + (rng.random() < c.logins_per_day - 1)
            for _ in range(n):
                emit(
                    "login",
                    c,
                    day0 + rng.uniform(6, 23) * 3600,
                    channel=rng.choice(("web", "web", "mobile", "mobile", "api", "other")),
                    session_seconds=round(rng.expovariate(1 / 600.0), 1),
                    **({"success": False} if rng.random() < 0.03 else {}),
                )

    def _orders(self, c: _Customer, d: int, day0: float, churning: bool, emit: _Emit) -> None:
        """The subscription's start, orders at the customer's usual gap, a few cancelled or refunded."""
        rng = self.rng
        if d == 0 and c.subscribed:
            emit("payment", c, day0 + 3600, kind="subscription", action="started", plan="standard")
        c.next_order -= 1
        if c.next_order <= 0 and not (churning and c.churn == "fading_logins"):
            c.orders += 1
            oid = f"{c.cid}-o{c.orders}"
            ts = day0 + rng.uniform(8, 22) * 3600
            amount = round(c.order_amount * rng.uniform(0.5, 1.5), 2)
            emit("order", c, ts, order_id=oid, amount=amount, currency="USD", items=rng.randint(1, 5))
            if rng.random() < 0.04:
                status = rng.choice(("cancelled", "refunded"))
                emit("order", c, ts + 1800, order_id=oid, amount=amount, currency="USD", status=status)
            c.next_order = c.order_gap * rng.uniform(0.7, 1.3)

    def _payments(self, c: _Customer, d: int, day0: float, churning: bool, emit: _Emit) -> None:
        """Renewals (failing after a failed_payments onset), failed charges and pauses at the onset."""
        rng = self.rng
        if c.subscribed and d % 30 == c.renewal_day:
            ts = day0 + 2 * 3600
            amount = 29.0
            if churning and c.churn == "failed_payments":
                emit("payment", c, ts, kind="renewal", amount=amount, currency="USD", status="failed")
                emit("payment", c, ts + DAY / 2, kind="renewal", amount=amount, currency="USD", status="failed")
                if rng.random() < 0.4:
                    emit(
                        "payment",
                        c,
                        ts + DAY * 0.8,
                        kind="chargeback",
                        amount=amount,
                        currency="USD",
                        status="succeeded",
                    )
            elif rng.random() < 0.03:
                emit("payment", c, ts, kind="renewal", amount=amount, currency="USD", status="failed")
                emit("payment", c, ts + 3 * 3600, kind="renewal", amount=amount, currency="USD", status="succeeded")
            else:
                emit("payment", c, ts, kind="renewal", amount=amount, currency="USD", status="succeeded")
        if churning and c.churn == "failed_payments" and d == c.onset:
            for k in range(2):
                emit(
                    "payment",
                    c,
                    day0 + (3 + k * 5) * 3600,
                    kind="charge",
                    amount=round(c.order_amount, 2),
                    currency="USD",
                    status="failed",
                )
        if churning and c.churn == "pauses" and d == c.onset:
            action = rng.choice(("paused", "downgraded", "cancelled"))
            emit("payment", c, day0 + 10 * 3600, kind="subscription", action=action)

    def _tickets(self, c: _Customer, d: int, day0: float, churning: bool, emit: _Emit) -> None:
        """Tickets opened (urgent and angry after an angry_tickets onset), resolved, surveyed."""
        rng = self.rng
        angry = churning and c.churn == "angry_tickets" and d < c.onset + 6
        if (angry and rng.random() < 0.7) or rng.random() < c.ticket_p:
            c.tickets += 1
            tid = f"{c.cid}-t{c.tickets}"
            priority = "urgent" if angry else rng.choice(("low", "normal", "normal", "high"))
            sentiment = round(rng.uniform(-0.95, -0.5) if angry else rng.uniform(-0.3, 0.8), 2)
            emit(
                "support_ticket",
                c,
                day0 + rng.uniform(8, 18) * 3600,
                ticket_id=tid,
                action="opened",
                priority=priority,
                category=rng.choice(("billing", "bug", "howto", "account")),
                sentiment=sentiment,
            )
            if not angry:
                c.open_tickets.append((tid, d + rng.randint(1, 3)))
        still_open = []
        for tid, close_day in c.open_tickets:
            if d >= close_day:
                emit(
                    "support_ticket",
                    c,
                    day0 + rng.uniform(8, 18) * 3600,
                    ticket_id=tid,
                    action="resolved",
                    sentiment=round(rng.uniform(0.0, 0.9), 2),
                )
                if rng.random() < 0.3:
                    emit(
                        "support_ticket",
                        c,
                        day0 + 20 * 3600,
                        ticket_id=tid,
                        action="survey",
                        nps=rng.choice((6, 7, 8, 9, 9, 10, 10)),
                        csat=rng.choice((3, 4, 5, 5)),
                    )
            else:
                still_open.append((tid, close_day))
        c.open_tickets = still_open
        if angry and d == c.onset + 5:
            emit(
                "support_ticket",
                c,
                day0 + 21 * 3600,
                ticket_id=f"{c.cid}-t{c.tickets}",
                action="survey",
                nps=rng.randint(0, 4),
                csat=rng.randint(1, 2),
            )


def generate(cfg: SimConfig) -> Iterator[dict[str, Any]]:
    """JSON-ready event dicts (with ``"type"``) in event-time order."""
    gen = _Generator(cfg)
    for d in range(cfg.days):
        for _ts, _seq, event in gen.day(d):
            yield event


def churners(cfg: SimConfig) -> dict[str, str]:
    """Which customers churn and how (for tests and the demo's legend)."""
    gen = _Generator(cfg)
    return {c.cid: c.churn for c in gen.customers if c.churn is not None}
