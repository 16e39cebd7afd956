"""Outages are retried and never blamed on the event; problems with the event are not retried forever."""

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError
from pydantic import ValidationError
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from runtime.faults import is_transient


def qdrant_answer(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status_code=status, reason_phrase="x", content=b"", headers=httpx.Headers())


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
        asyncpg.PostgresConnectionError(),
        asyncpg.DeadlockDetectedError(),
        asyncpg.SerializationError(),
        httpx.ConnectError("refused"),
        ResponseHandlingException(httpx.ReadTimeout("slow")),
        qdrant_answer(503),
        qdrant_answer(429),
    ],
    ids=repr,
)
def test_outages_and_lost_races_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), KeyError("x"), MessageSizeTooLargeError(), asyncpg.UniqueViolationError(), asyncpg.CheckViolationError(), qdrant_answer(400)],
    ids=repr,
)
def test_problems_with_the_event_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_validation_error_is_the_events_fault() -> None:
    from contracts.events import Requester

    with pytest.raises(ValidationError) as caught:
        Requester(id="")
    assert not is_transient(caught.value)
