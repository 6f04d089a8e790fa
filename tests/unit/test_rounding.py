"""``rules.records.round_fast`` (the compiled core's ``round(x, digits)``) gives the builtin's very double."""

from __future__ import annotations

import math
import random
import struct

import pytest

from rules.records import round_fast, round_places


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


EDGES = [0.0, -0.0, 0.125, -0.125, 0.005, -0.004, -0.001, 1e-9, -1e-9, 2.675, 1.005, 0.5, -0.5, 1.5]
EDGES += [21474836.47, 21474836.48, 214748.3647, 1e300, -1e300, math.inf, -math.inf]


@pytest.mark.parametrize("digits", [2, 3, 4])
def test_round_fast_is_the_builtin(digits: int) -> None:
    rng = random.Random(7)
    values = list(EDGES)
    for _ in range(20_000):
        scale = rng.choice([1.0, 100.0, 1e4, 1e6, 1e8])
        x = rng.uniform(-scale, scale)
        values += [x, round(x, rng.randint(1, 5)), rng.randint(-(10**7), 10**7) / 1000 + rng.choice([0.0, 5e-4, -5e-5])]
    for x in values:
        got, want = round_fast(x, digits), round(x, digits)
        assert type(got) is float and _bits(got) == _bits(want), (x, digits, got, want)


def test_round_fast_nan_and_other_digits() -> None:
    assert math.isnan(round_fast(math.nan, 2))
    assert round_fast(2.345678, 1) == round(2.345678, 1)
    assert round_fast(2.345678, 6) == round(2.345678, 6)
    assert _bits(round_places(-0.001, 2)) == _bits(round(-0.001, 2))
