"""A service is ready only while its consumers get through their work, and its metrics say which does not."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.progress import Progress


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def progress(clock: Clock) -> Progress:
    return Progress("governance", max_attempts=3, stuck_after_s=120.0, clock=clock)


def samples(progress: Progress) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and labels, read back by Prometheus's own parser."""
    text = progress.render().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples}


def labels(handler: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"service": "governance", "handler": handler, **more}.items()))


def test_a_healthy_consumer_handling_batch_after_batch_is_never_stuck(progress: Progress, clock: Clock) -> None:
    for offset in range(0, 10_000, 500):
        progress.batch_started("on_any_event", f"ticket.created/0/{offset}", 500)
        clock.advance(100)  # slow, but each batch is handled within the bound
        assert progress.stuck() == {}
        progress.batch_done("on_any_event", handled=499, dead_lettered=1)
    assert progress.stuck() == {}
    consumer = progress.consumers["on_any_event"]
    assert (consumer.batches_started, consumer.batches_handled) == (20, 20)
    assert (consumer.records_handled, consumer.records_dead_lettered) == (9980, 20)


def test_a_broker_blip_that_costs_one_redelivery_is_not_stuck(progress: Progress, clock: Clock) -> None:
    progress.batch_started("on_any_event", "ticket.created/0/40", 12)
    clock.advance(61)  # a minute of infrastructure retries, then the batch goes back to the broker
    progress.batch_failed("on_any_event", ConnectionError("broker unreachable"))
    progress.batch_started("on_any_event", "ticket.created/0/40", 12)
    clock.advance(5)
    assert progress.stuck() == {}
    progress.batch_done("on_any_event", handled=12)
    assert progress.stuck() == {}


def test_a_batch_redelivered_past_the_bound_is_stuck_and_recovers_once_handled(progress: Progress, clock: Clock) -> None:
    for _ in range(4):  # a fast redelivery loop: the same position over and over
        progress.batch_started("on_any_event", "audit.events/3/58000", 500)
        clock.advance(1)
        progress.batch_failed("on_any_event", TimeoutError("dead letter not acknowledged"))
    why = progress.stuck()["on_any_event"]
    assert "delivered 4 times and never handled (at most 3)" in why
    assert "500 records from audit.events/3/58000" in why
    assert "TimeoutError('dead letter not acknowledged')" in why
    assert samples(progress)[("workforce_consumer_batch_attempts", labels("on_any_event"))] == 4

    progress.batch_started("on_any_event", "audit.events/3/58000", 500)
    progress.batch_done("on_any_event", handled=499, dead_lettered=1)
    assert progress.stuck() == {}
    assert samples(progress)[("workforce_consumer_stuck", labels("on_any_event"))] == 0


def test_redeliveries_of_the_same_work_count_even_when_they_start_at_another_partition(progress: Progress, clock: Clock) -> None:
    for first in ["audit.events/3/58000", "audit.events/1/900", "audit.events/3/58000", "audit.events/1/900"]:
        progress.batch_started("on_any_event", first, 500)
        progress.batch_failed("on_any_event", ValueError("boom"))
    assert "delivered 4 times" in progress.stuck()["on_any_event"]


def test_a_consumer_with_work_and_no_batch_handled_for_the_bound_is_stuck(progress: Progress, clock: Clock) -> None:
    progress.batch_started("on_any_event", "ticket.created/0/7", 30)
    clock.advance(119)
    assert progress.stuck() == {}
    clock.advance(2)
    why = progress.stuck()["on_any_event"]
    assert "it has had work for 121 s and handled none (at most 120 s)" in why
    assert "in the handler" in why  # a call that hangs


def test_work_retried_slowly_is_stuck_by_time_before_the_attempts_bound(progress: Progress, clock: Clock) -> None:
    progress.batch_started("on_any_event", "ticket.created/0/7", 30)
    clock.advance(61)
    progress.batch_failed("on_any_event", ConnectionError("database unreachable"))
    progress.batch_started("on_any_event", "ticket.created/0/7", 30)
    clock.advance(61)
    progress.batch_failed("on_any_event", ConnectionError("database unreachable"))
    why = progress.stuck()["on_any_event"]
    assert "it has had work for 122 s" in why
    assert "failed, awaiting redelivery; last error: ConnectionError('database unreachable')" in why


def test_an_idle_consumer_is_never_stuck_however_long_it_waits(progress: Progress, clock: Clock) -> None:
    progress.watch("on_coworker_command")
    clock.advance(86_400)
    assert progress.stuck() == {}
    progress.batch_started("on_coworker_command", "coworker.command/0/0", 1)
    progress.batch_done("on_coworker_command", handled=1)
    clock.advance(86_400)
    assert progress.stuck() == {}
    metrics = samples(progress)
    assert metrics[("workforce_consumer_stuck", labels("on_coworker_command"))] == 0
    assert metrics[("workforce_consumer_last_progress_seconds", labels("on_coworker_command"))] == 86_400


def test_work_given_away_in_a_rebalance_leaves_the_consumer_not_stuck(progress: Progress, clock: Clock) -> None:
    progress.batch_started("on_any_event", "ticket.created/0/7", 30)
    progress.batch_failed("on_any_event", ConnectionError("broker unreachable"))
    progress.released("on_any_event")
    clock.advance(600)
    assert progress.stuck() == {}
    progress.batch_started("on_any_event", "ticket.created/1/3", 2)  # new work, a fresh count
    assert progress.consumers["on_any_event"].attempts == 1
    assert progress.stuck() == {}


def test_the_metrics_name_the_stuck_handler_with_one_and_the_healthy_with_zero(progress: Progress, clock: Clock) -> None:
    progress.watch("on_coworker_command")
    progress.batch_started("on_any_event", "audit.events/3/58000", 500)
    progress.batch_done("on_any_event", handled=480, dead_lettered=20)
    clock.advance(10)
    progress.batch_started("on_any_event", "audit.events/3/58500", 500)
    clock.advance(200)

    metrics = samples(progress)
    assert metrics[("workforce_consumer_stuck", labels("on_any_event"))] == 1
    assert metrics[("workforce_consumer_stuck", labels("on_coworker_command"))] == 0
    assert metrics[("workforce_consumer_batch_attempts", labels("on_any_event"))] == 1
    assert metrics[("workforce_consumer_last_progress_seconds", labels("on_any_event"))] == 210
    assert metrics[("workforce_consumer_records_total", labels("on_any_event", outcome="handled"))] == 480
    assert metrics[("workforce_consumer_records_total", labels("on_any_event", outcome="dead_lettered"))] == 20
    assert 'workforce_consumer_stuck{handler="on_any_event",service="governance"} 1.0' in progress.render().decode()


def test_two_services_in_one_process_keep_their_metrics_apart(clock: Clock) -> None:
    triage, billing = Progress("triage", clock=clock), Progress("billing", clock=clock)
    triage.watch("on_ticket_created")
    billing.watch("on_llm_usage")
    assert b'service="triage"' in triage.render() and b"billing" not in triage.render()
    assert b'service="billing"' in billing.render() and b"triage" not in billing.render()


def test_bounds_that_could_never_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts is 0"):
        Progress("triage", max_attempts=0)
    with pytest.raises(ValueError, match="stuck_after_s is -1"):
        Progress("triage", stuck_after_s=-1)
