"""Which failures are the infrastructure's (retry, never blame the event) and which are the event's."""

from __future__ import annotations

import asyncpg
import httpx
from aiokafka.errors import KafkaError, KafkaTimeoutError
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    httpx.TransportError,
    ResponseHandlingException,  # qdrant-client's wrapper of a failed HTTP exchange
)


class RetryLater(Exception):
    """Raised by a handler that cannot decide yet (e.g. a fact it needs is still on its way): the
    batch is retried with backoff, never dead-lettered."""


def is_transient(exc: BaseException) -> bool:
    """True for an outage or a lost race (worth retrying as is); False for a problem with the input."""
    if isinstance(exc, KafkaError):
        # aiokafka marks what is worth retrying; a produce timeout is an unreachable broker too.
        return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)
    if isinstance(exc, UnexpectedResponse):  # Qdrant answered: overloaded or failing is transient
        return exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429)
    return isinstance(exc, (*_TRANSIENT, RetryLater))
