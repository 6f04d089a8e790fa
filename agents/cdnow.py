"""The public CDNOW sample (2,357 customers of a CD retailer, first orders Jan–Mar 1997, orders
to June 1998) as churnwatch order events, for ``make evaluate``.

The file ``CDNOW_sample.txt`` ships inside the ``lifetimes`` package on PyPI (installed by the
``evaluate`` extra); it is read as a data file, lifetimes itself is never imported. Each line is
``customer_id  customer_index  YYYYMMDD  cds  dollars``. Rows of one customer on one day become
one order (their amounts summed), as purchase models count repeat *days*.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def sample_path() -> Path:
    """Where the installed lifetimes package keeps the sample (found without importing it)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the CDNOW sample comes with the 'lifetimes' package: "
            "pip install 'churnwatch[evaluate]' (make evaluate does)"
        )
    path = Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed lifetimes package")
    return path


def cdnow_events(path: Path) -> Iterator[dict[str, Any]]:
    """Order events, one per customer and day, in file order."""
    days: dict[tuple[str, str], float] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        customer, _index, day, _cds, dollars = line.split()
        days[(customer, day)] = round(days.get((customer, day), 0.0) + float(dollars), 2)
    for (customer, day), amount in days.items():
        ts = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
        yield {
            "type": "order",
            "event_id": f"cdnow-{customer}-{day}",
            "customer_id": customer,
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "order_id": f"{customer}-{day}",
            "amount": amount,
            "currency": "USD",
        }
