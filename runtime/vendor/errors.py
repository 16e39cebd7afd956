"""How a connected system says no: one error type for every connector."""

from __future__ import annotations


class ApiError(Exception):
    """An error as the system's API reports it: HTTP status, the system's own error code and summary.

    ``transient`` errors (429, 5xx, unreachable) are retried with backoff; the rest are answers.
    ``retry_after`` is how long the system asked to be left alone (``Retry-After``, Okta's
    ``X-Rate-Limit-Reset``), in seconds, when it said.
    """

    def __init__(self, status: int, code: str, summary: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {summary}")
        self.status, self.code, self.summary, self.retry_after = status, code, summary, retry_after

    @property
    def transient(self) -> bool:
        return self.status == 429 or self.status >= 500


def unreachable(system: str, exc: BaseException) -> ApiError:
    """A network failure talking to ``system``, as a transient error (the detail never holds a secret)."""
    return ApiError(503, "unreachable", f"{system} did not answer: {type(exc).__name__}")
