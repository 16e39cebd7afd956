"""The skills' own rules about the people and access they act on, whichever system holds the data."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.skills.connectors.okta import AppUser

#: Statuses from which a coworker resets an Okta password (the statuses Okta allows it from).
RESETTABLE = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED"})

#: An assignment unused (no sign-in) for longer than this is stale in an access review.
STALE_AFTER_DAYS = 90


def is_stale(assignment: AppUser, now: datetime, days: int = STALE_AFTER_DAYS) -> bool:
    """Assigned for longer than ``days`` and not used within them."""
    cutoff = now - timedelta(days=days)
    return assignment.created < cutoff and (assignment.last_sign_in is None or assignment.last_sign_in < cutoff)


#: Years of continuous service after which India's Payment of Gratuity Act, 1972 (s. 4) owes a leaver gratuity.
GRATUITY_MIN_YEARS = 5
