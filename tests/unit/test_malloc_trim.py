"""agents.malloc_trim: the allocator is asked to give memory back once, at the first state flush
with nothing to write after a burst, never during one."""

from __future__ import annotations

from agents.malloc_trim import Trimmer, _libc_trim


def test_trims_once_at_the_first_idle_flush_after_a_burst() -> None:
    calls: list[int] = []
    trimmer = Trimmer(after=100, trim=lambda pad: calls.append(pad) or 1)
    assert not trimmer.flushed(0)  # idle from the start: nothing to give back
    assert not trimmer.flushed(60)
    assert not trimmer.flushed(0)  # a pause after a small burst: not yet
    assert not trimmer.flushed(60)  # busy
    assert trimmer.flushed(0) and calls == [0]
    assert not trimmer.flushed(0)  # once per burst
    assert calls == [0] and trimmer.trims == 1


def test_without_glibc_it_does_nothing() -> None:
    trimmer = Trimmer(after=1)
    trimmer.trim = None
    trimmer.flushed(5)
    assert not trimmer.flushed(0)


def test_glibc_trim_is_callable_here() -> None:
    trim = _libc_trim()
    if trim is not None:  # Linux with glibc: the worker's platform
        assert trim(0) in (0, 1)
