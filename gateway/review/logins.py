"""How many wrong passwords an account or a client may give, wherever the
password is asked for (the web app's login, the CLI's ``--as``): one policy,
counted in the store (``Store.reserve_login``) so it holds across processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.store import LoginHistory

# A name is locked after this many failures from clients it has not logged
# in from; from a client it has, each further failure doubles a short wait
# instead, so someone guessing elsewhere cannot lock the real user out.
MAX_NAME_FAILURES = 5
# A client (one address: a school's NAT may be many people) is locked after this many.
MAX_CLIENT_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=1)


def seconds_to_wait(history: LoginHistory, now: datetime) -> float:
    """0 when this attempt may be checked, else how long until it may."""
    lockout = FAILURE_WINDOW.total_seconds()
    if history.client_failures >= MAX_CLIENT_FAILURES:
        return lockout
    if history.known_client:
        beyond = history.failures_here - MAX_NAME_FAILURES
        if beyond < 0 or history.last_failure_here is None:
            return 0
        delay = min(FIRST_DELAY * 2**beyond, FAILURE_WINDOW)
        return max(0.0, (history.last_failure_here + delay - now).total_seconds())
    return lockout if history.name_failures >= MAX_NAME_FAILURES else 0
