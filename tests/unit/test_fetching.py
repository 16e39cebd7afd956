"""A consumer's fetch hold: short while records come, long once it has been quiet."""

import pytest

from runtime.fetching import FetchPace
from runtime.settings import ServiceSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_consumer_that_has_seen_nothing_holds_fetches_long() -> None:
    pace = FetchPace(busy_ms=25, idle_ms=500, idle_after_s=2.0, clock=Clock())
    assert pace.wait_ms == 500


def test_records_make_it_busy_until_it_has_been_quiet_for_idle_after() -> None:
    clock = Clock()
    pace = FetchPace(busy_ms=25, idle_ms=500, idle_after_s=2.0, clock=clock)
    pace.saw(3)
    assert pace.wait_ms == 25
    clock.now += 1.9
    pace.saw(0)  # an empty poll does not keep it busy
    assert pace.wait_ms == 25
    clock.now += 0.2
    assert pace.wait_ms == 500


def test_a_busy_hold_follows_how_far_apart_records_come() -> None:
    clock = Clock()
    pace = FetchPace(busy_ms=25, idle_ms=1000, idle_after_s=2.0, clock=clock)
    for _ in range(20):  # a record every 800 ms: the hold settles at a quarter of that
        pace.saw(1)
        clock.now += 0.8
    assert pace.wait_ms == 200
    for _ in range(20):  # records streaming in: the busy hold
        pace.saw(5)
        clock.now += 0.01
    assert pace.wait_ms == 25


def test_expecting_a_reply_makes_it_busy() -> None:
    clock = Clock()
    pace = FetchPace(busy_ms=10, idle_ms=500, idle_after_s=1.0, clock=clock)
    for _ in range(5):
        pace.saw(1)
        clock.now += 0.9
    assert pace.wait_ms > 10
    pace.expect()
    assert pace.wait_ms == 10


def test_the_next_fetch_request_uses_the_paced_hold() -> None:
    class Fetcher:
        _fetch_max_wait_ms = 500

    class Consumer:
        _fetcher = Fetcher()

    clock = Clock()
    pace = FetchPace(busy_ms=25, idle_ms=500, idle_after_s=2.0, clock=clock)
    consumer = Consumer()
    pace.saw(1)
    pace.apply(consumer)  # type: ignore[arg-type]
    assert consumer._fetcher._fetch_max_wait_ms == 25
    clock.now += 5
    pace.apply(consumer)  # type: ignore[arg-type]
    assert consumer._fetcher._fetch_max_wait_ms == 500


def test_settings_name_the_holds_and_a_busy_hold_longer_than_the_idle_one_is_refused() -> None:
    pace = FetchPace.of(ServiceSettings(fetch_busy_wait_ms=30, fetch_max_wait_ms=400, fetch_idle_after_s=1.5))
    assert (pace.busy_ms, pace.idle_ms, pace.idle_after_s) == (30, 400, 1.5)
    with pytest.raises(ValueError, match="longer than the idle one"):
        FetchPace(busy_ms=600, idle_ms=500, idle_after_s=1.0)
