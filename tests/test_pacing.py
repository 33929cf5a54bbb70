"""Pacing on a fake clock: absolute deadlines, catch-up after a stall, all modes."""

from __future__ import annotations

import pytest

from producer.pacing import Pacer, due_time, rate_from
from producer.settings import ReplaySettings


class FakeClock:
    """A clock that only moves when slept on (or advanced by hand)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_fixed_rate_sends_on_absolute_deadlines() -> None:
    clock = FakeClock()
    pacer = Pacer(1000.0, clock, clock.sleep)
    for n in range(10_000):
        pacer.wait(n)
        clock.now += 0.0002  # the send itself costs 0.2 ms
    # 10 000 beats at 1 k/s: the last is due 9.999 s after the first; no drift.
    assert clock.now - 100.0 == pytest.approx(9.999 + 0.0002, abs=1e-6)


def test_late_beats_are_sent_at_once_and_the_schedule_catches_up() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock, clock.sleep)
    pacer.wait(0)
    clock.now += 1.0  # a stall of 10 intervals
    assert [pacer.wait(n) for n in range(1, 11)] == [0.0] * 10
    assert pacer.wait(11) == pytest.approx(0.1)
    assert clock.now == pytest.approx(100.0 + 1.1)


def test_unpaced_never_sleeps() -> None:
    clock = FakeClock()
    pacer = Pacer(None, clock, clock.sleep)
    assert all(pacer.wait(n) == 0.0 for n in range(1000))
    assert clock.slept == []


def test_tiny_delays_are_not_slept() -> None:
    clock = FakeClock()
    pacer = Pacer(1_000_000.0, clock, clock.sleep)  # 1 us per beat, below MIN_SLEEP_S
    for n in range(100):
        pacer.wait(n)
    assert clock.slept == []


def test_rate_from_modes() -> None:
    assert rate_from(250.0, streams=8, bpm=75, speed=1) == 250.0
    assert rate_from(0.0, streams=8, bpm=75, speed=1) is None
    assert rate_from(None, streams=8, bpm=75, speed=1) == pytest.approx(10.0)  # 8 x 75/60
    assert rate_from(None, streams=4, bpm=60, speed=10) == pytest.approx(40.0)
    with pytest.raises(ValueError):
        rate_from(-1.0, streams=1, bpm=75, speed=1)
    with pytest.raises(ValueError):
        rate_from(None, streams=0, bpm=75, speed=1)


def test_settings_total_rate_agrees_with_rate_from() -> None:
    for kwargs in ({"rate": 500.0}, {"rate": 0.0}, {"bpm": 90.0, "streams": 3},
                   {"bpm": 60.0, "speed": 4.0}, {}):
        s = ReplaySettings(**kwargs)  # type: ignore[arg-type]
        assert s.total_rate() == rate_from(s.rate, streams=s.streams, bpm=s.bpm, speed=s.speed)


def test_due_time() -> None:
    assert due_time(5.0, 0, 100.0) == 5.0
    assert due_time(5.0, 250, 100.0) == 7.5
    assert due_time(5.0, 250, None) == 5.0


def test_pacer_rejects_nonpositive_rate() -> None:
    with pytest.raises(ValueError):
        Pacer(0.0, FakeClock(), lambda s: None)
