"""Who may relay: the school's mail servers by network, or by SMTP AUTH over TLS."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import argon2
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SMTPEnvelope

log = logging.getLogger("chaperone")


def peer_address(session: Session) -> str | None:
    return session.peer[0] if isinstance(session.peer, tuple) else None


@functools.lru_cache(maxsize=4096)
def trusted(peer: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return any(ip in net for net in networks)


LOCKED_OUT = "454 4.7.0 Too many failed logins; try again later"


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failed SMTP logins, counted per user name and per client address across
    sessions (a session allows three AUTH commands; a guesser just reconnects).

    After ``free`` failures a name or address is locked out for
    ``first_lock`` seconds, doubling with each further failure up to
    ``max_lock``; a lock-out answers 454 (temporary: the sending server keeps
    its mail) without checking the password, so a right guess inside it is not
    accepted either. A name left without failures for ``forget`` seconds starts
    afresh; a successful login clears its name and address. Counted in this
    process only: each gateway node keeps its own.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        free: int = 5,
        first_lock: float = 60.0,
        max_lock: float = 3600.0,
        forget: float = 24 * 3600.0,
    ) -> None:
        self.clock = clock
        self.free = free
        self.first_lock = first_lock
        self.max_lock = max_lock
        self.forget = forget
        self._failures: dict[str, _Failures] = {}

    def _current(self, key: str, now: float) -> _Failures | None:
        f = self._failures.get(key)
        if f is not None and now - f.last > self.forget:
            del self._failures[key]
            return None
        return f

    def locked(self, *keys: str) -> bool:
        now = self.clock()
        for key in keys:
            f = self._current(key, now)
            if f is not None and f.count >= self.free:
                lock = min(self.first_lock * 2 ** (f.count - self.free), self.max_lock)
                if now < f.last + lock:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        now = self.clock()
        if len(self._failures) > 100_000:  # a scan of random names must not grow this forever
            self._failures = {
                k: f for k, f in self._failures.items() if now - f.last <= self.first_lock
            }
        for key in keys:
            f = self._current(key, now)
            if f is None:
                self._failures[key] = _Failures(1, now)
            else:
                f.count += 1
                f.last = now

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


class Access:
    """Trusted networks, and SMTP AUTH PLAIN/LOGIN against argon2 hashes
    (aiosmtpd offers AUTH only after STARTTLS)."""

    def __init__(
        self,
        networks: tuple,
        auth_users: tuple[tuple[str, str], ...],
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.networks = networks
        self.users = dict(auth_users)
        self.throttle = throttle or LoginThrottle()
        self._hasher = argon2.PasswordHasher()
        self._verified: set[tuple[str, str]] = set()

    def authorised(self, session: Session) -> bool:
        if session.authenticated:
            return True
        peer = peer_address(session)
        return peer is not None and trusted(peer, self.networks)

    def trusted(self, peer: str) -> bool:
        return trusted(peer, self.networks)

    def authenticate(
        self, server: SMTP, session: Session, envelope: SMTPEnvelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        keys = ("user:" + user, "client:" + (peer_address(session) or str(session.peer)))
        if self.throttle.locked(*keys):
            log.warning(
                "smtp auth refused: locked out after failed logins",
                extra={"json": {"user": user, "client": str(session.peer)}},
            )
            return AuthResult(success=False, handled=False, message=LOCKED_OUT)
        hashed = self.users.get(user)
        key = (user, hashlib.sha256(auth_data.password).hexdigest())
        ok = False
        if hashed is not None:
            if key in self._verified:
                ok = True
            else:
                try:
                    ok = self._hasher.verify(hashed, auth_data.password)
                except argon2.exceptions.VerificationError:
                    ok = False
                except argon2.exceptions.InvalidHashError:
                    log.error(
                        "SMTP user has an invalid password hash", extra={"json": {"user": user}}
                    )
                if ok:
                    self._verified.add(key)  # a mail server logs in on every connection
        if ok:
            self.throttle.succeeded(*keys)
        else:
            self.throttle.failed(*keys)
        log.info("smtp auth", extra={"json": {"user": user, "ok": ok, "client": str(session.peer)}})
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
