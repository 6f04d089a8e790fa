"""Benchmark sizes: every measurement is bounded by these parameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Size:
    name: str
    # Replay: a streams.simulate mix, capped at replay_max_events.
    replay_customers: int
    replay_days: int
    replay_max_events: int
    # Memory per customer: one fresh process per customer count, a minimal per-customer event set.
    memory_customers: tuple[int, ...]
    memory_events_per_customer: int
    # Tick cost: engine.tick over a store of this many customers, ~tick_due_share of them due.
    tick_customers: int
    tick_due_share: float
    # Live: events pre-produced to the input topics, shared by the worker, raw aiokafka and Quix.
    live_events: int
    live_customers: int
    live_partitions: int
    # Latency: offered rates (events/s) and seconds at each; alert_share of events trigger an alert.
    latency_rates: tuple[int, ...]
    latency_seconds: float
    latency_alert_share: float
    # Upper bound for any one live phase (seconds) before it is reported as timed out.
    phase_timeout: float
    # Scale: replay of a `churnwatch simulate --days scale_days` mix at each customer count, both
    # stores; the worker's RSS per customer at each of scale_worker_customers, both stores.
    scale_customers: tuple[int, ...] = ()
    scale_days: int = 5
    scale_worker_customers: tuple[int, ...] = ()
    # each worker measurement is made this many times (fresh workers); the rows are the medians
    scale_worker_repeats: int = 1


SIZES: dict[str, Size] = {
    "tiny": Size(
        name="tiny",
        replay_customers=40,
        replay_days=14,
        replay_max_events=5_000,
        memory_customers=(2_000,),
        memory_events_per_customer=4,
        tick_customers=2_000,
        tick_due_share=0.01,
        live_events=2_000,
        live_customers=200,
        live_partitions=2,
        latency_rates=(200,),
        latency_seconds=2.0,
        latency_alert_share=0.05,
        phase_timeout=60.0,
        scale_customers=(200, 1_000),
        scale_worker_customers=(500,),
    ),
    "small": Size(
        name="small",
        replay_customers=1_000,
        replay_days=60,
        replay_max_events=60_000,
        memory_customers=(20_000,),
        memory_events_per_customer=4,
        tick_customers=20_000,
        tick_due_share=0.01,
        live_events=30_000,
        live_customers=5_000,
        live_partitions=4,
        latency_rates=(1_000, 5_000),
        latency_seconds=10.0,
        latency_alert_share=0.01,
        phase_timeout=60.0,
        scale_customers=(2_000, 20_000, 100_000),
        scale_worker_customers=(5_000, 20_000),
    ),
    "full": Size(
        name="full",
        replay_customers=10_000,
        replay_days=120,
        replay_max_events=600_000,
        memory_customers=(100_000, 1_000_000),
        memory_events_per_customer=4,
        tick_customers=1_000_000,
        tick_due_share=0.01,
        live_events=300_000,
        live_customers=50_000,
        live_partitions=4,
        latency_rates=(1_000, 5_000, 20_000),
        latency_seconds=10.0,
        latency_alert_share=0.01,
        phase_timeout=180.0,
        scale_customers=(10_000, 100_000, 1_000_000),
        # 1M customers: the fixed ~45 MB a backlog leaves (and its run-to-run swing of ~7 MB)
        # moves the marginal by under 10 B a customer; a worker takes them in in about 10 minutes
        scale_worker_customers=(100_000, 1_000_000),
        scale_worker_repeats=1,
    ),
}


def get_size(name: str, **overrides: object) -> Size:
    """The named size, with optional field overrides (``None`` values are ignored)."""
    base = SIZES[name]
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]


def size_to_dict(size: Size) -> dict[str, object]:
    return asdict(size)
