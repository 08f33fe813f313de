"""Who may relay: the school's mail servers by network, or by SMTP AUTH over TLS."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
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


class Access:
    """Trusted networks, and SMTP AUTH PLAIN/LOGIN against argon2 hashes
    (aiosmtpd offers AUTH only after STARTTLS)."""

    def __init__(self, networks: tuple, auth_users: tuple[tuple[str, str], ...]) -> None:
        self.networks = networks
        self.users = dict(auth_users)
        self._hasher = argon2.PasswordHasher()
        self._verified: set[tuple[str, str]] = set()

    def authorised(self, session: Session) -> bool:
        if session.authenticated:
            return True
        peer = peer_address(session)
        return peer is not None and trusted(peer, self.networks)

    def authenticate(
        self, server: SMTP, session: Session, envelope: SMTPEnvelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
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
        log.info("smtp auth", extra={"json": {"user": user, "ok": ok, "client": str(session.peer)}})
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
