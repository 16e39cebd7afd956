"""How long to wait before trying a system again: what it asked for (``Retry-After``, Okta's
``X-Rate-Limit-Reset``, carried as ``ApiError.retry_after``) when it said, else exponential backoff
with jitter (so a crowd of steps that failed together does not come back together), never past the
step's own limit. Retrying itself is tenacity's (``execution.py``)."""

from __future__ import annotations

from tenacity import RetryCallState, wait_exponential_jitter
from tenacity.wait import wait_base

from runtime.vendor.errors import ApiError


def transient(exc: BaseException) -> bool:
    """Worth another attempt: an outage, a rate limit, a timeout; never a refusal."""
    return isinstance(exc, TimeoutError) or (isinstance(exc, ApiError) and exc.transient)


class VendorWait(wait_base):
    """The system's own ``retry_after`` if it gave one, else jittered exponential backoff; at most ``cap_s``."""

    def __init__(self, backoff_s: float, cap_s: float) -> None:
        self.cap_s = cap_s
        self._backoff = wait_exponential_jitter(initial=backoff_s, max=cap_s, jitter=backoff_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        return min(self.cap_s, asked if asked is not None else self._backoff(retry_state))
