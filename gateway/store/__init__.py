"""The data layer: quarantine, delivery queue and audit, on SQLite or PostgreSQL.

One class, two databases. SQLite is the embedded default (a file in the
data directory, WAL with ``synchronous=FULL``, so a commit is on disk before
it returns); PostgreSQL is for schools and trusts that run several gateway
nodes. Every method is a short transaction and is safe to call from several
threads: each thread gets its own connection.

Nothing here knows about SMTP: the relay passes plain values in and gets
plain values out. The SQL is shared; what differs between the databases
(connecting, transactions, placeholders, row locks) is in ``sqlite`` and
``postgres``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.mail import (
    BREACH_VERDICTS,
    CopyStatus,
    Envelope,
    RecipientClass,
    Role,
    new_queue_id,
    now_utc,
    printable,
)
from gateway.store import postgres, sqlite
from gateway.store.migrations import MIGRATIONS

COPY_STATUSES = tuple(s.value for s in CopyStatus)


class StoreError(Exception):
    """The store cannot be opened or used; the message says what to do."""


def ts(at: datetime) -> str:
    """Fixed-width ISO-8601 UTC text: sorts and compares the same on both databases."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if text else None


def parse_required_ts(text: str) -> datetime:
    """A timestamp column that is NOT NULL."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


__all__ = ["Envelope", "new_queue_id", "now_utc"]  # the vocabulary, for the store's callers


@dataclass(frozen=True, slots=True)
class StoredFinding:
    rule: str
    category: str
    action: str
    evidence: str
    part: str
    zone: str
    quoted: bool
    note: str
    context: str
    value: str = ""  # canonical: E.164 number, address or platform:handle (contact-detail rules)

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "category": self.category,
            "action": self.action,
            "evidence": self.evidence,
            "part": self.part,
            "zone": self.zone,
            "quoted": self.quoted,
        }


@dataclass(frozen=True, slots=True)
class NewCopy:
    """A recipient copy the gateway takes responsibility for."""

    recipient: str
    recipient_class: RecipientClass
    status: CopyStatus  # what the gateway took it on as: held, rejected (refused), queued or failed
    reason: str
    findings: tuple[StoredFinding, ...] = ()
    last_reply: str = ""


@dataclass(frozen=True, slots=True)
class CopyRecord:
    id: int
    message_id: str
    recipient: str
    recipient_class: str
    status: str
    reason: str
    created_at: datetime
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_reply: str
    mail_from: str
    subject: str
    size: int
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    possible_duplicate: bool = False
    kind: str = "mail"
    assigned_to: str | None = None
    # A release's verdict on the hold (gateway.review.tuning.RELEASE_VERDICTS), if given.
    decision_verdict: str | None = None
    findings: tuple[StoredFinding, ...] = ()

    def as_json(self) -> dict:
        out = {
            "id": self.id,
            "message": self.message_id,
            "recipient": self.recipient,
            "class": self.recipient_class,
            "status": self.status,
            "reason": self.reason,
            "sender": self.mail_from,
            "subject": self.subject,
            "size": self.size,
            "kind": self.kind,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "attempts": self.attempts,
            "last_reply": self.last_reply,
            "findings": [f.as_json() for f in self.findings],
        }
        if self.decided_by:
            decision = {
                "by": self.decided_by,
                "at": ts(self.decided_at) if self.decided_at else None,
                "reason": self.decision_reason,
            }
            if self.decision_verdict:
                decision["verdict"] = self.decision_verdict
            out["decision"] = decision
        if self.possible_duplicate:
            out["possible_duplicate"] = True
        return out


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    received_at: datetime
    envelope: Envelope
    size: int
    sha256: str
    subject: str
    header_message_id: str
    scan_error: str | None
    raw: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    copy_ids: dict[str, int]  # recipient -> copy id
    new: bool  # False when this was a retry of a message already stored


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    message_id: str | None
    copy_id: int | None
    detail: dict


def dedupe_key(mail_from: str, raw: bytes) -> str:
    return hashlib.sha256(
        mail_from.lower().encode("utf-8", "surrogateescape") + b"\0" + raw
    ).hexdigest()


_COPY_COLUMNS = (
    "c.id, c.message_id, c.recipient, c.recipient_class, c.status, c.reason, c.created_at, "
    "c.updated_at, c.attempts, c.next_attempt_at, c.last_reply, m.mail_from, m.subject, m.size, "
    "c.decided_by, c.decided_at, c.decision_reason, c.possible_duplicate, m.kind, c.assigned_to, "
    "c.decision_verdict"
)
# A copy whose hold a reviewer confirmed as a breach (gateway.review.tuning.confirms_breach).
_CONFIRMED_BREACH = "(c.status = 'rejected' OR c.decision_verdict IN ({}))".format(
    ", ".join(f"'{v}'" for v in sorted(BREACH_VERDICTS))
)
# Copies the delivery queue works on: deferred by the next hop, or released by a reviewer.
_DELIVERABLE = "('queued', 'released')"


@dataclass(frozen=True, slots=True)
class NewException:
    """A detail a reviewer approves while releasing a copy (see ``Store.release``)."""

    kind: str
    value: str
    label: str
    senders: tuple[str, ...]  # empty: all staff
    recipients: tuple[str, ...]
    until: datetime | None


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    status: str  # the copy's status afterwards
    released: bool  # this call released it
    approvals: int  # different reviewers who have approved releasing it
    repeated: bool = False  # this reviewer had approved already; nothing changed
    exceptions: tuple[int, ...] = ()  # exceptions put in force by this release


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One change an admin made to a rule in the web app (``Store.change_rule``)."""

    id: int
    rule: str
    changes: dict[str, Any]  # key -> value; None: as the rule file says
    previous: dict[str, Any]  # the same keys, as they were in force before
    actor: str
    at: datetime
    reason: str
    undoes: int | None = None  # the change this one undoes


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A copy the gateway held or refused with a finding of ``rule``, and what became of it."""

    rule: str
    copy_id: int
    created_at: datetime
    status: str
    decided: bool  # a reviewer released or rejected it (not expired)
    verdict: str | None  # the release's verdict, if one was given
    category: str = ""
    decided_at: datetime | None = None  # when a reviewer decided (or it expired)


@dataclass(frozen=True, slots=True)
class LoginHistory:
    """Failed logins in the throttling window, as the limit sees them."""

    name_failures: int  # for this name, from any client
    client_failures: int  # from this client, for any name
    known_client: bool  # this name has logged in from this client before
    failures_here: int  # for this name from this client
    last_failure_here: datetime | None


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    email: str
    password_hash: str
    disabled: bool
    os_user: str | None = None  # the login that decides as this account in the CLI
    # Sessions issued under an older generation are no longer valid.
    session_generation: int = 0
    lead: bool = False  # a safeguarding lead: senders' histories, the concerns log


@dataclass(frozen=True, slots=True)
class Concern:
    """A member of staff whose confirmed breaches crossed the threshold (``Store.open_concern``)."""

    id: int
    sender: str
    opened_at: datetime
    summary: str
    messages: tuple[str, ...]  # the queue ids it was opened for
    status: str  # open, closed
    closed_by: str | None
    closed_at: datetime | None
    notes: tuple[tuple[str, datetime, str], ...] = ()  # (who, when, text), oldest first


@dataclass(frozen=True, slots=True)
class Breach:
    """A message of a sender with a copy whose hold a reviewer confirmed as a breach."""

    message_id: str
    copy_id: int
    decided_at: datetime


ROLES = tuple(r.value for r in Role)
_MIGRATION_LOCK = 7420431
_LOGIN_LOCK = 7420432
_CONCERN_LOCK = 7420433
_USER_COLUMNS = "name, role, email, password_hash, disabled, os_user, session_generation, lead"


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], row[3], bool(row[4]), row[5], int(row[6]), bool(row[7]))


class Store:
    """Open with :func:`open_store`; the schema is migrated on open."""

    def __init__(self, url: str, *, health_check: bool = False) -> None:
        self.url = url
        if url.startswith(sqlite.PREFIX):
            self._db: sqlite.SQLite | postgres.PostgreSQL = sqlite.SQLite(url, StoreError)
        elif url.startswith(postgres.PREFIXES):
            self._db = postgres.PostgreSQL(url, StoreError)
        else:
            raise StoreError(f"store URL {url!r} is neither sqlite:///PATH nor postgresql://...")
        self.dialect = self._db.name
        self.path = self._db.path  # the SQLite file; None on PostgreSQL
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        if health_check:
            # Before anything else reads it: the error names the file or server at fault.
            self._db.check()
        self.migrate()

    # -- connections -------------------------------------------------------
    def _connect(self) -> Any:
        return self._db.connect()

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(Exception):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def _reconnect(self) -> Any:
        self._drop_conn()
        return self._conn()

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[_Cursor]:
        conn = self._conn()
        try:
            conn = self._db.alive(conn, self._reconnect)
            with self._db.transaction(conn, write):
                yield _Cursor(conn, self._db)
        except Exception as exc:
            if self._db.is_error(exc):
                if self._db.is_broken(conn):
                    self._drop_conn()
                raise StoreError(f"store error in {self._db.where}: {exc}") from exc
            raise

    # -- schema ------------------------------------------------------------
    def migrate(self) -> int:
        with self._tx() as cur:
            lock = self._db.exclusive(_MIGRATION_LOCK)
            if lock:
                cur.execute(lock)
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {
                row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()
            }
            for m in MIGRATIONS:
                if m.version in done:
                    continue
                for statement in m.statements(self.dialect):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, ts(now_utc())),
                )
            return max(done | {m.version for m in MIGRATIONS})

    def schema_version(self) -> int:
        with self._tx(write=False) as cur:
            return cur.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0

    # -- taking responsibility for copies ---------------------------------
    def accept(
        self,
        envelope: Envelope,
        raw: bytes,
        copies: Sequence[NewCopy],
        *,
        subject: str = "",
        header_message_id: str = "",
        scan_error: str | None = None,
        at: datetime | None = None,
        queue_id: str | None = None,
        kind: str = "mail",
        notices: Sequence[Any] = (),
    ) -> Accepted:
        """Durably record the message and these copies; idempotent per message and recipient.

        When the same sender sends the same bytes again (a client retrying
        after a 4xx), the existing message row is reused and copies already
        recorded are left as they are. ``notices`` (each with envelope, raw,
        copies and subject) are queued in the same transaction, and only the
        first time: a retry does not tell anyone twice.
        """
        at = at or now_utc()
        with self._tx() as cur:
            accepted = self._accept(
                cur,
                envelope,
                raw,
                copies,
                subject=subject,
                header_message_id=header_message_id,
                scan_error=scan_error,
                at=at,
                queue_id=queue_id,
                kind=kind,
            )
            if accepted.new:
                for n in notices:
                    self._accept(
                        cur,
                        n.envelope,
                        n.raw,
                        n.copies,
                        subject=n.subject,
                        header_message_id="",
                        scan_error=None,
                        at=at,
                        queue_id=None,
                        kind="notice",
                    )
            return accepted

    def _accept(
        self,
        cur: _Cursor,
        envelope: Envelope,
        raw: bytes,
        copies: Sequence[NewCopy],
        *,
        subject: str,
        header_message_id: str,
        scan_error: str | None,
        at: datetime,
        queue_id: str | None,
        kind: str,
    ) -> Accepted:
        key = dedupe_key(envelope.mail_from, raw)
        proposed = queue_id or new_queue_id()
        # ON CONFLICT DO NOTHING, then read back: two nodes accepting the
        # same retry at once end with one row, the second waiting on the
        # unique index rather than failing.
        cur.execute(
            "INSERT INTO messages (id, dedupe_key, received_at, mail_from, rcpt_tos, mail_options, "
            "client_address, client_helo, size, sha256, subject, header_message_id, scan_error, raw, kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
            (
                proposed,
                key,
                ts(at),
                envelope.mail_from,
                json.dumps(list(envelope.rcpt_tos)),
                json.dumps(list(envelope.mail_options)),
                envelope.client_address,
                _clean(envelope.client_helo),
                len(raw),
                hashlib.sha256(raw).hexdigest(),
                _clean(subject)[:998],
                _clean(header_message_id)[:998],
                scan_error,
                raw,
                kind,
            ),
        )
        message_id = cur.execute("SELECT id FROM messages WHERE dedupe_key = ?", (key,)).fetchone()[
            0
        ]
        new = message_id == proposed
        ids: dict[str, int] = {}
        for copy in copies:
            inserted = cur.execute(
                "INSERT INTO copies (message_id, recipient, recipient_class, status, reason, created_at, "
                "updated_at, attempts, next_attempt_at, last_reply) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (message_id, recipient) DO NOTHING",
                (
                    message_id,
                    copy.recipient,
                    copy.recipient_class,
                    copy.status,
                    _clean(copy.reason)[:1000],
                    ts(at),
                    ts(at),
                    ts(at) if copy.status == "queued" else None,
                    _clean(copy.last_reply)[:1000],
                ),
            ).rowcount
            copy_id = cur.execute(
                "SELECT id FROM copies WHERE message_id = ? AND recipient = ?",
                (message_id, copy.recipient),
            ).fetchone()[0]
            ids[copy.recipient] = copy_id
            if not inserted:
                continue
            for f in copy.findings:
                cur.execute(
                    "INSERT INTO findings (copy_id, rule, category, action, evidence, part, zone, quoted, note, "
                    "context, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        copy_id,
                        f.rule,
                        f.category,
                        f.action,
                        f.evidence,
                        f.part,
                        f.zone,
                        int(f.quoted),
                        f.note,
                        f.context,
                        f.value,
                    ),
                )
            self._audit(
                cur,
                at,
                "gateway",
                copy.status,
                message_id,
                copy_id,
                {
                    "reason": _clean(copy.reason)[:1000],
                    "rules": sorted({f.rule for f in copy.findings}),
                },
            )
        return Accepted(message_id, ids, new)

    # -- reading -------------------------------------------------------------
    def copies(
        self,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        kind: str | None = "mail",
        newest: bool = False,
    ) -> list[CopyRecord]:
        """Copies oldest first; by default only of mail as received (``kind=None``: notices too).
        ``newest``: the last ``limit`` of them (still oldest first)."""
        if status is not None and status not in COPY_STATUSES:
            raise StoreError(f"unknown status {status!r}; one of {', '.join(COPY_STATUSES)}")
        conditions, params = [], []
        if status:
            conditions.append("c.status = ?")
            params.append(status)
        if kind:
            conditions.append("m.kind = ?")
            params.append(kind)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                f"{where} ORDER BY c.created_at {'DESC' if newest else ''}, c.id "
                f"{'DESC' if newest else ''} LIMIT ? OFFSET ?",
                (*params, limit if limit is not None else 2**62, offset),
            ).fetchall()
            return self._copies(cur, rows[::-1] if newest else rows)

    def copy(self, copy_id: int) -> CopyRecord | None:
        with self._tx(write=False) as cur:
            row = cur.execute(
                f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                "WHERE c.id = ?",
                (copy_id,),
            ).fetchone()
            return self._copy(cur, row) if row else None

    def copies_of(self, message_id: str) -> list[CopyRecord]:
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                "WHERE c.message_id = ? ORDER BY c.id",
                (message_id,),
            ).fetchall()
            return self._copies(cur, rows)

    @classmethod
    def _copy(cls, cur: _Cursor, row: Sequence[Any]) -> CopyRecord:
        return cls._copies(cur, [row])[0]

    @staticmethod
    def _copies(cur: _Cursor, rows: Sequence[Sequence[Any]]) -> list[CopyRecord]:
        """Copy rows with their findings, fetched in batches rather than one query per copy."""
        findings: dict[int, list[StoredFinding]] = {}
        ids = [row[0] for row in rows]
        for i in range(0, len(ids), 500):
            batch = ids[i : i + 500]
            marks = ", ".join("?" * len(batch))
            for r in cur.execute(
                "SELECT copy_id, rule, category, action, evidence, part, zone, quoted, note, "
                f"context, value FROM findings WHERE copy_id IN ({marks}) ORDER BY id",
                batch,
            ).fetchall():
                findings.setdefault(r[0], []).append(
                    StoredFinding(r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10])
                )
        return [
            CopyRecord(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                parse_required_ts(row[6]),
                parse_required_ts(row[7]),
                row[8],
                parse_ts(row[9]),
                row[10],
                row[11],
                row[12],
                row[13],
                row[14],
                parse_ts(row[15]),
                row[16],
                bool(row[17]),
                row[18],
                row[19],
                row[20],
                tuple(findings.get(row[0], ())),
            )
            for row in rows
        ]

    def message(self, message_id: str) -> MessageRecord | None:
        with self._tx(write=False) as cur:
            row = cur.execute(
                "SELECT id, received_at, mail_from, rcpt_tos, mail_options, client_address, "
                "client_helo, size, sha256, subject, header_message_id, scan_error, raw "
                "FROM messages WHERE id = ?",
                (message_id,),
            ).fetchone()
        if row is None:
            return None
        env = Envelope(row[2], tuple(json.loads(row[3])), tuple(json.loads(row[4])), row[5], row[6])
        return MessageRecord(
            row[0],
            parse_required_ts(row[1]),
            env,
            row[7],
            row[8],
            row[9],
            row[10],
            row[11],
            bytes(row[12]),
        )

    def counts(self) -> dict[str, int]:
        with self._tx(write=False) as cur:
            rows = cur.execute("SELECT status, COUNT(*) FROM copies GROUP BY status").fetchall()
        out = dict.fromkeys(COPY_STATUSES, 0)
        out.update({r[0]: r[1] for r in rows})
        return out

    # -- the delivery queue --------------------------------------------------
    def claim_due(self, at: datetime, lease: timedelta, limit: int = 50) -> list[CopyRecord]:
        """Copies due for delivery (deferred or released), each claimed for ``lease``.

        The claim is a compare-and-set on ``next_attempt_at``: two workers (or
        two nodes on one PostgreSQL) never both claim the same copy, and a copy
        whose worker died is claimable again once the lease runs out. Such a
        copy is marked ``possible_duplicate`` only when the dead worker had got
        as far as DATA (``sending``) and its outcome was never settled: it may
        have reached the next hop (delivery is at least once, never lost). A
        claimed copy the dead worker never sent is not marked.
        """
        claimed: list[int] = []
        with self._tx() as cur:
            lock = self._db.lock_rows
            rows = cur.execute(
                f"SELECT id, next_attempt_at, in_flight, message_id FROM copies WHERE status IN "
                f"{_DELIVERABLE} AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?{lock}",
                (ts(at), limit),
            ).fetchall()
            for copy_id, due, in_flight, message_id in rows:
                n = cur.execute(
                    "UPDATE copies SET next_attempt_at = ?, attempts = attempts + 1, in_flight = 0, "
                    "possible_duplicate = possible_duplicate + ? "
                    f"WHERE id = ? AND status IN {_DELIVERABLE} AND next_attempt_at = ?",
                    (ts(at + lease), 1 if in_flight else 0, copy_id, due),
                ).rowcount
                if n == 1:
                    claimed.append(copy_id)
                    if in_flight:
                        self._audit(
                            cur,
                            at,
                            "gateway",
                            "possible-duplicate",
                            message_id,
                            copy_id,
                            {"why": "an earlier attempt sent DATA and ended without an answer"},
                        )
            return [
                self._copy(cur, row)
                for row in (
                    cur.execute(
                        f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                        "WHERE c.id = ?",
                        (cid,),
                    ).fetchone()
                    for cid in claimed
                )
            ]

    def sending(self, copy_id: int) -> None:
        """Record, just before DATA, that this attempt may reach the next hop from now on;
        ``settle`` clears it. One left set is how ``claim_due`` knows a dead worker's
        attempt may have been delivered."""
        with self._tx() as cur:
            cur.execute("UPDATE copies SET in_flight = 1 WHERE id = ?", (copy_id,))

    def settle(
        self,
        copy_id: int,
        outcome: str,
        reply: str,
        *,
        actor: str = "gateway",
        next_attempt_at: datetime | None = None,
        at: datetime | None = None,
        possible_duplicate: bool = False,
    ) -> bool:
        """Record a delivery attempt: ``delivered``, ``failed``, or ``deferred`` until ``next_attempt_at``.

        ``possible_duplicate``: this attempt sent DATA and got no final answer, so the
        next hop may have the copy already; it is marked, and a retry may duplicate it.
        """
        if outcome not in ("delivered", "failed", "deferred"):
            raise StoreError(f"unknown delivery outcome {outcome!r}")
        at = at or now_utc()
        with self._tx() as cur:
            if possible_duplicate:
                n = cur.execute(
                    "UPDATE copies SET possible_duplicate = possible_duplicate + 1 "
                    f"WHERE id = ? AND status IN {_DELIVERABLE}",
                    (copy_id,),
                ).rowcount
                if n:
                    msg = self._message_of(cur, copy_id)
                    self._audit(
                        cur,
                        at,
                        actor,
                        "possible-duplicate",
                        msg,
                        copy_id,
                        {"why": "the next hop gave no answer after DATA; it may have the copy"},
                    )
            if outcome == "deferred":
                n = cur.execute(
                    "UPDATE copies SET last_reply = ?, next_attempt_at = ?, in_flight = 0, updated_at = ? "
                    f"WHERE id = ? AND status IN {_DELIVERABLE}",
                    (_clean(reply)[:1000], ts(next_attempt_at or at), ts(at), copy_id),
                ).rowcount
            else:
                n = cur.execute(
                    "UPDATE copies SET status = ?, last_reply = ?, next_attempt_at = NULL, in_flight = 0, "
                    f"updated_at = ? WHERE id = ? AND status IN {_DELIVERABLE}",
                    (outcome, _clean(reply)[:1000], ts(at), copy_id),
                ).rowcount
            if n:
                msg = self._message_of(cur, copy_id)
                self._audit(cur, at, actor, outcome, msg, copy_id, {"reply": _clean(reply)[:1000]})
            return bool(n)

    # -- expiry --------------------------------------------------------------------
    def held_before(
        self,
        cutoff: datetime,
        *,
        unreminded: bool = False,
        undigested: bool = False,
        limit: int = 500,
    ) -> list[CopyRecord]:
        """Held copies of mail received before ``cutoff`` (optionally only those not yet reminded of,
        or not yet in a digest)."""
        extra = (" AND c.reminded_at IS NULL" if unreminded else "") + (
            " AND c.digested_at IS NULL" if undigested else ""
        )
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                f"WHERE c.status = 'held' AND m.kind = 'mail' AND c.created_at < ?{extra} "
                "ORDER BY c.created_at, c.id LIMIT ?",
                (ts(cutoff), limit),
            ).fetchall()
            return self._copies(cur, rows)

    def mark_reminded(
        self, copy_ids: Sequence[int], at: datetime, *, column: str = "reminded_at"
    ) -> list[int]:
        """Record a reminder (or a digest) once per copy (compare-and-set): the ids this call marked."""
        action = {"reminded_at": "reminded", "digested_at": "digested"}[column]
        marked = []
        with self._tx() as cur:
            for copy_id in copy_ids:
                if cur.execute(
                    f"UPDATE copies SET {column} = ? WHERE id = ? AND {column} IS NULL "
                    "AND status = 'held'",
                    (ts(at), copy_id),
                ).rowcount:
                    marked.append(copy_id)
                    msg = self._message_of(cur, copy_id)
                    self._audit(cur, at, "gateway", action, msg, copy_id, {})
        return marked

    # -- reviewer decisions ------------------------------------------------------
    def decide(
        self,
        copy_id: int,
        decision: CopyStatus | str,
        *,
        actor: str,
        reason: str,
        verdict: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Release or reject a held copy: a compare-and-set from ``held``, so exactly one
        of any number of concurrent decisions takes effect; the others return False."""
        if decision not in (CopyStatus.RELEASED, CopyStatus.REJECTED, CopyStatus.EXPIRED):
            raise StoreError(f"unknown decision {decision!r}")
        at = at or now_utc()
        with self._tx() as cur:
            n = cur.execute(
                "UPDATE copies SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ?, "
                "decision_verdict = ?, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ? AND status = 'held'",
                (
                    decision,
                    _clean(actor)[:200],
                    ts(at),
                    _clean(reason)[:2000],
                    verdict,
                    ts(at) if decision == CopyStatus.RELEASED else None,
                    ts(at),
                    copy_id,
                ),
            ).rowcount
            if n:
                msg = self._message_of(cur, copy_id)
                self._audit(
                    cur,
                    at,
                    _clean(actor)[:200],
                    decision,
                    msg,
                    copy_id,
                    {"reason": _clean(reason)[:2000], **({"verdict": verdict} if verdict else {})},
                )
            return bool(n)

    def release(
        self,
        copy_id: int,
        *,
        actor: str,
        reason: str,
        reviewers: int = 1,
        exception: NewException | None = None,
        verdict: str | None = None,
        at: datetime | None = None,
    ) -> ReleaseOutcome:
        """Approve releasing a held copy, and release it once enough reviewers have.

        One transaction with the copy's row locked: the approval, the count of
        different approvers and the compare-and-set from ``held`` see each other,
        so two reviewers at the same instant are first and second, never both
        first. ``reviewers`` is how many different reviewers it needs; an
        ``exception`` is proposed with this approval and comes into force only
        when the copy is released, and one for all staff (no senders) only after
        a reviewer other than its proposer has approved since.
        """
        at = at or now_utc()
        actor = _clean(actor)[:200]
        reason = _clean(reason)[:2000]
        with self._tx() as cur:
            row = cur.execute(
                "SELECT status, message_id FROM copies WHERE id = ?" + self._db.lock_row,
                (copy_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"no copy {copy_id}")
            status, msg = row
            if status != CopyStatus.HELD:
                return ReleaseOutcome(status, False, 0)
            latest = self._latest_approvals(cur, copy_id)
            pending = self._proposed(cur, copy_id)
            # A reviewer approves again only when there is something new to approve:
            # another reviewer's all-staff exception proposed since their approval.
            if actor in latest and not any(
                not p["senders"] and p["proposed_by"] != actor and latest[actor] < p["approval_id"]
                for p in pending
            ):
                return ReleaseOutcome(status, False, len(latest), repeated=True)
            approval = cur.execute(
                "INSERT INTO release_approvals (copy_id, actor, at, reason) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (copy_id, actor, ts(at), reason),
            ).fetchone()[0]
            if exception is not None:
                proposed = cur.execute(
                    "INSERT INTO proposed_exceptions (copy_id, kind, value, label, senders, "
                    "recipients, until, proposed_by, proposed_at, reason, approval_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        copy_id,
                        exception.kind,
                        exception.value,
                        _clean(exception.label)[:200],
                        json.dumps([a.lower() for a in exception.senders]),
                        json.dumps([a.lower() for a in exception.recipients]),
                        ts(exception.until) if exception.until else None,
                        actor,
                        ts(at),
                        reason,
                        approval,
                    ),
                ).fetchone()[0]
                self._audit(
                    cur,
                    at,
                    actor,
                    "exception-proposed",
                    msg,
                    copy_id,
                    {"proposal": proposed, **_exception_detail(exception)},
                )
                pending = self._proposed(cur, copy_id)
            latest = self._latest_approvals(cur, copy_id)
            approvers = set(latest)
            if not self._enough(reviewers, pending, latest):
                self._audit(
                    cur,
                    at,
                    actor,
                    "release-approved",
                    msg,
                    copy_id,
                    {"reason": reason, "why": "another reviewer must approve too"},
                )
                return ReleaseOutcome(status, False, len(approvers))
            cur.execute(
                "UPDATE copies SET status = 'released', decided_by = ?, decided_at = ?, "
                "decision_reason = ?, decision_verdict = ?, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ? AND status = 'held'",
                (actor, ts(at), reason, verdict, ts(at), ts(at), copy_id),
            )
            self._audit(
                cur,
                at,
                actor,
                "released",
                msg,
                copy_id,
                {"reason": reason, **({"verdict": verdict} if verdict else {})},
            )
            added = []
            for proposal in pending:
                new_id = cur.execute(
                    "INSERT INTO exceptions (kind, value, label, senders, recipients, until, "
                    "added_by, added_at, reason, copy_id) SELECT kind, value, label, senders, "
                    "recipients, until, proposed_by, ?, reason, copy_id FROM proposed_exceptions "
                    "WHERE id = ? RETURNING id",
                    (ts(at), proposal["id"]),
                ).fetchone()[0]
                cur.execute(
                    "UPDATE proposed_exceptions SET exception_id = ? WHERE id = ?",
                    (new_id, proposal["id"]),
                )
                self._audit(
                    cur,
                    at,
                    proposal["proposed_by"],
                    "exception-added",
                    None,
                    copy_id,
                    {
                        "exception": new_id,
                        "kind": proposal["kind"],
                        "value": proposal["value"],
                        "senders": proposal["senders"],
                        "recipients": proposal["recipients"],
                        "until": proposal["until"],
                        "confirmed_by": actor,
                    },
                )
                added.append(new_id)
            return ReleaseOutcome(
                CopyStatus.RELEASED, True, len(approvers), exceptions=tuple(added)
            )

    @staticmethod
    def _proposed(cur: _Cursor, copy_id: int) -> list[dict]:
        rows = cur.execute(
            "SELECT id, kind, value, senders, recipients, until, proposed_by, approval_id "
            "FROM proposed_exceptions WHERE copy_id = ? AND exception_id IS NULL ORDER BY id",
            (copy_id,),
        ).fetchall()
        return [
            {
                "id": r[0],
                "kind": r[1],
                "value": r[2],
                "senders": json.loads(r[3]),
                "recipients": json.loads(r[4]),
                "until": r[5],
                "proposed_by": r[6],
                "approval_id": r[7],
            }
            for r in rows
        ]

    @staticmethod
    def _latest_approvals(cur: _Cursor, copy_id: int) -> dict[str, int]:
        """Each reviewer who has approved releasing the copy, with their newest approval's id."""
        rows = cur.execute(
            "SELECT actor, MAX(id) FROM release_approvals WHERE copy_id = ? GROUP BY actor",
            (copy_id,),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def _enough(reviewers: int, pending: list[dict], latest: dict[str, int]) -> bool:
        """Enough approvals to release: ``reviewers`` different ones, and for each
        proposed all-staff exception a later approval by someone else
        (``latest``: each approver's newest approval id)."""
        if len(latest) < reviewers:
            return False
        return all(
            any(a != p["proposed_by"] and i > p["approval_id"] for a, i in latest.items())
            for p in pending
            if not p["senders"]
        )

    def proposed_exceptions(self, copy_id: int) -> list[dict]:
        """Exceptions proposed on this copy that are not in force yet."""
        with self._tx(write=False) as cur:
            return self._proposed(cur, copy_id)

    # -- approved exceptions added by reviewers -------------------------------------
    def add_exception(
        self,
        *,
        kind: str,
        value: str,
        label: str,
        senders: Sequence[str],
        recipients: Sequence[str],
        until: datetime | None,
        actor: str,
        reason: str,
        copy_id: int | None = None,
    ) -> int:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO exceptions (kind, value, label, senders, recipients, until, added_by, added_at, "
                "reason, copy_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    value,
                    _clean(label)[:200],
                    json.dumps([s.lower() for s in senders]),
                    json.dumps([r.lower() for r in recipients]),
                    ts(until) if until else None,
                    _clean(actor)[:200],
                    ts(now_utc()),
                    _clean(reason)[:2000],
                    copy_id,
                ),
            )
            new_id = cur.execute("SELECT MAX(id) FROM exceptions").fetchone()[0]
            self._audit(
                cur,
                now_utc(),
                _clean(actor)[:200],
                "exception-added",
                None,
                copy_id,
                {
                    "exception": new_id,
                    "kind": kind,
                    "value": value,
                    "senders": list(senders),
                    "recipients": list(recipients),
                    "until": ts(until) if until else None,
                },
            )
            return new_id

    def exceptions(self) -> list[dict]:
        """Every exception reviewers and admins added, oldest first, ended ones too
        (their ``until`` is when they ended)."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT id, kind, value, label, senders, recipients, until, added_by, added_at, "
                "reason, copy_id, ended_by, ended_at FROM exceptions ORDER BY id"
            ).fetchall()
        return [
            {
                "id": r[0],
                "kind": r[1],
                "value": r[2],
                "label": r[3],
                "senders": json.loads(r[4]),
                "recipients": json.loads(r[5]),
                "until": parse_ts(r[6]),
                "added_by": r[7],
                "added_at": parse_required_ts(r[8]),
                "reason": r[9],
                "copy_id": r[10],
                "ended_by": r[11],
                "ended_at": parse_ts(r[12]),
            }
            for r in rows
        ]

    def exceptions_version(self) -> int:
        """Rises with every exception added, edited or ended."""
        return self.versions()[0]

    def change_exception(
        self,
        exception: int,
        *,
        actor: str,
        reason: str,
        label: str | None = None,
        senders: Sequence[str] | None = None,
        recipients: Sequence[str] | None = None,
        until: datetime | None = None,
        end: bool = False,
        at: datetime | None = None,
    ) -> bool:
        """Edit an exception's label, scope or expiry, or end it now; audited with what it
        was. False if there is no such exception, or it has ended."""
        at, actor, reason = at or now_utc(), _clean(actor)[:200], _clean(reason)[:2000]
        with self._tx() as cur:
            row = cur.execute(
                "SELECT label, senders, recipients, until FROM exceptions "
                "WHERE id = ? AND ended_at IS NULL" + self._db.lock_row,
                (exception,),
            ).fetchone()
            if row is None:
                return False
            before = {
                "label": row[0],
                "senders": json.loads(row[1]),
                "recipients": json.loads(row[2]),
                "until": row[3],
            }
            after = dict(before)
            if label is not None:
                after["label"] = _clean(label)[:200]
            if senders is not None:
                after["senders"] = [s.lower() for s in senders]
            if recipients is not None:
                after["recipients"] = [r.lower() for r in recipients]
            if until is not None:
                after["until"] = ts(until)
            if end:
                after["until"] = ts(at)
            cur.execute(
                "UPDATE exceptions SET label = ?, senders = ?, recipients = ?, until = ?, "
                "revision = revision + 1, ended_by = ?, ended_at = ? WHERE id = ?",
                (
                    after["label"],
                    json.dumps(after["senders"]),
                    json.dumps(after["recipients"]),
                    after["until"],
                    actor if end else None,
                    ts(at) if end else None,
                    exception,
                ),
            )
            self._audit(
                cur,
                at,
                actor,
                "exception-ended" if end else "exception-changed",
                None,
                None,
                {"exception": exception, "reason": reason, "before": before, "after": after},
            )
            return True

    # -- patterns across messages ---------------------------------------------
    def sender_copies(self, sender: str) -> list[CopyRecord]:
        """Every copy of mail from this sender the gateway held or refused, oldest first."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT {_COPY_COLUMNS} FROM copies c JOIN messages m ON m.id = c.message_id "
                "WHERE lower(m.mail_from) = ? AND m.kind = 'mail' AND c.id IN "
                "(SELECT copy_id FROM findings) ORDER BY c.created_at, c.id",
                (sender.lower(),),
            ).fetchall()
            return self._copies(cur, rows)

    def senders_with_holds(self, since: datetime) -> list[tuple[str, int, int, datetime]]:
        """(sender, copies held or refused, confirmed breaches, last hold) since ``since``."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT lower(m.mail_from), COUNT(*), SUM(CASE WHEN {_CONFIRMED_BREACH} "
                "THEN 1 ELSE 0 END), MAX(c.created_at) "
                "FROM copies c JOIN messages m ON m.id = c.message_id WHERE m.kind = 'mail' "
                "AND c.created_at >= ? AND c.id IN (SELECT copy_id FROM findings) "
                "GROUP BY lower(m.mail_from) ORDER BY 3 DESC, 2 DESC",
                (ts(since),),
            ).fetchall()
        return [(r[0], int(r[1]), int(r[2] or 0), parse_required_ts(r[3])) for r in rows]

    def open_concern(
        self,
        sender: str,
        *,
        threshold: int,
        since: datetime,
        summary: Callable[[list[Breach]], str],
        at: datetime | None = None,
    ) -> int | None:
        """Open a concern for ``sender`` if their confirmed breaches decided since ``since``,
        in messages no concern lists yet, are ``threshold`` or more; its id, else None.

        One transaction under a lock, so concurrent decisions open it once."""
        at = at or now_utc()
        sender = sender.lower()
        with self._tx() as cur:
            lock = self._db.exclusive(_CONCERN_LOCK)
            if lock:
                cur.execute(lock)
            listed = {
                m
                for (messages,) in cur.execute(
                    "SELECT messages FROM concerns WHERE sender = ?", (sender,)
                ).fetchall()
                for m in json.loads(messages)
            }
            rows = cur.execute(
                "SELECT c.message_id, MIN(c.id), MIN(c.decided_at) FROM copies c "
                "JOIN messages m ON m.id = c.message_id WHERE lower(m.mail_from) = ? "
                "AND m.kind = 'mail' AND c.decided_at >= ? AND "
                f"{_CONFIRMED_BREACH} "
                "GROUP BY c.message_id ORDER BY 3",
                (sender, ts(since)),
            ).fetchall()
            breaches = [
                Breach(r[0], r[1], parse_required_ts(r[2])) for r in rows if r[0] not in listed
            ]
            if len(breaches) < threshold:
                return None
            text = _clean(summary(breaches))[:2000]
            concern = cur.execute(
                "INSERT INTO concerns (sender, opened_at, summary, messages) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (sender, ts(at), text, json.dumps([b.message_id for b in breaches])),
            ).fetchone()[0]
            self._audit(
                cur,
                at,
                "gateway",
                "concern-opened",
                None,
                None,
                {
                    "concern": concern,
                    "sender": sender,
                    "messages": [b.message_id for b in breaches],
                },
            )
            return concern

    def concerns(self, status: str | None = None) -> list[Concern]:
        """The concerns log, newest first, each with its notes."""
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT id, sender, opened_at, summary, messages, status, closed_by, closed_at "
                f"FROM concerns {where} ORDER BY id DESC",
                params,
            ).fetchall()
            notes: dict[int, list[tuple[str, datetime, str]]] = {}
            for n in cur.execute(
                "SELECT concern_id, actor, at, text FROM concern_notes ORDER BY id"
            ).fetchall():
                notes.setdefault(n[0], []).append((n[1], parse_required_ts(n[2]), n[3]))
        return [
            Concern(
                r[0],
                r[1],
                parse_required_ts(r[2]),
                r[3],
                tuple(json.loads(r[4])),
                r[5],
                r[6],
                parse_ts(r[7]),
                tuple(notes.get(r[0], ())),
            )
            for r in rows
        ]

    def concern_note(self, concern: int, *, actor: str, text: str, close: bool = False) -> bool:
        """Add a lead's note to a concern (and close it); False if there is no such concern."""
        at, actor, text = now_utc(), _clean(actor)[:200], _clean(text)[:4000]
        with self._tx() as cur:
            if not cur.execute("SELECT 1 FROM concerns WHERE id = ?", (concern,)).fetchone():
                return False
            cur.execute(
                "INSERT INTO concern_notes (concern_id, actor, at, text) VALUES (?, ?, ?, ?)",
                (concern, actor, ts(at), text),
            )
            if close:
                cur.execute(
                    "UPDATE concerns SET status = 'closed', closed_by = ?, closed_at = ? "
                    "WHERE id = ? AND status = 'open'",
                    (actor, ts(at), concern),
                )
            self._audit(
                cur,
                at,
                actor,
                "concern-closed" if close else "concern-noted",
                None,
                None,
                {"concern": concern, "note": text},
            )
            return True

    # -- rules tuned in the app ------------------------------------------------
    def change_rule(
        self,
        rule: str,
        changes: dict[str, Any],
        *,
        previous: dict[str, Any],
        actor: str,
        reason: str,
        undoes: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record a change to a rule (in force on every node from the next reload) and audit it."""
        at = at or now_utc()
        actor, reason = _clean(actor)[:200], _clean(reason)[:2000]
        with self._tx() as cur:
            change = cur.execute(
                "INSERT INTO rule_changes (rule, changes, previous, actor, at, reason, undoes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    rule,
                    json.dumps(changes, ensure_ascii=False),
                    json.dumps(previous, ensure_ascii=False),
                    actor,
                    ts(at),
                    reason,
                    undoes,
                ),
            ).fetchone()[0]
            self._audit(
                cur,
                at,
                actor,
                "rule-changed",
                None,
                None,
                {
                    "change": change,
                    "rule": rule,
                    "changes": changes,
                    "previous": previous,
                    "reason": reason,
                    **({"undoes": undoes} if undoes else {}),
                },
            )
            return change

    def rule_changes(self, rule: str | None = None) -> list[RuleChange]:
        """Every change made in the app, oldest first (of one rule, if given)."""
        where, params = ("WHERE rule = ?", (rule,)) if rule else ("", ())
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT id, rule, changes, previous, actor, at, reason, undoes FROM rule_changes "
                f"{where} ORDER BY id",
                params,
            ).fetchall()
        return [
            RuleChange(
                r[0],
                r[1],
                json.loads(r[2]),
                json.loads(r[3]),
                r[4],
                parse_required_ts(r[5]),
                r[6],
                r[7],
            )
            for r in rows
        ]

    def versions(self) -> tuple[int, int]:
        """(exceptions, rule changes): each rises with every change of its kind, so a
        running gateway polls one query a second to know when to reload."""
        with self._tx(write=False) as cur:
            return tuple(
                cur.execute(
                    "SELECT (SELECT COALESCE(MAX(id), 0) + COALESCE(SUM(revision), 0) "
                    "FROM exceptions), (SELECT COALESCE(MAX(id), 0) FROM rule_changes)"
                ).fetchone()
            )

    def record_sightings(self, counts: dict[str, int], at: datetime | None = None) -> None:
        """Add to each rule's count of copies it found something in that went through."""
        day = (at or now_utc()).astimezone(UTC).date().isoformat()
        with self._tx() as cur:
            for rule, n in counts.items():
                cur.execute(
                    "INSERT INTO rule_sightings (rule, day, copies) VALUES (?, ?, ?) "
                    "ON CONFLICT (rule, day) DO UPDATE SET copies = rule_sightings.copies + ?",
                    (rule, day, n, n),
                )

    def sightings(self, since: datetime) -> dict[str, dict[str, int]]:
        """Per rule, per UTC day from ``since``'s: copies it found something in that went through."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT rule, day, copies FROM rule_sightings WHERE day >= ?",
                (since.astimezone(UTC).date().isoformat(),),
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for rule, day, n in rows:
            out.setdefault(rule, {})[day] = int(n)
        return out

    def rule_hits(self, since: datetime) -> list[RuleHit]:
        """Per rule, each copy held or refused since ``since`` with a finding of it, once."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT DISTINCT f.rule, c.id, c.created_at, c.status, c.decided_at, "
                "c.decision_verdict, f.category FROM findings f JOIN copies c ON c.id = f.copy_id "
                "WHERE c.created_at >= ? ORDER BY c.id",
                (ts(since),),
            ).fetchall()
        return [
            RuleHit(
                r[0],
                r[1],
                parse_required_ts(r[2]),
                r[3],
                r[4] is not None and r[3] != CopyStatus.EXPIRED,
                r[5],
                r[6],
                parse_ts(r[4]),
            )
            for r in rows
        ]

    def assign(self, copy_id: int, user: str | None, *, actor: str) -> bool:
        """Give a held copy to a reviewer (None: to nobody); audited."""
        with self._tx() as cur:
            n = cur.execute(
                "UPDATE copies SET assigned_to = ? WHERE id = ? AND status = 'held'",
                (user, copy_id),
            ).rowcount
            if n:
                msg = self._message_of(cur, copy_id)
                self._audit(
                    cur, now_utc(), _clean(actor)[:200], "assigned", msg, copy_id, {"to": user}
                )
            return bool(n)

    def users(self) -> list[User]:
        with self._tx(write=False) as cur:
            rows = cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def release_approvals(self, copy_id: int) -> list[str]:
        """The different reviewers who have approved releasing this copy, first first."""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                "SELECT actor, MIN(id) FROM release_approvals WHERE copy_id = ? GROUP BY actor "
                "ORDER BY MIN(id)",
                (copy_id,),
            ).fetchall()
        return [r[0] for r in rows]

    # -- accounts ----------------------------------------------------------------
    def put_user(
        self,
        name: str,
        *,
        role: str | None = None,
        email: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        os_user: str | None = None,
        lead: bool | None = None,
        actor: str = "cli",
    ) -> None:
        """Create the account, or change the given fields of an existing one (audited)."""
        if role is not None and role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}")
        if lead and role is not None and not Role(role).decides:
            raise StoreError("a safeguarding lead is a reviewer or admin account")
        with self._tx() as cur:
            row = cur.execute(
                "SELECT name, role, email FROM users WHERE name = ?", (name,)
            ).fetchone()
            after_role = role or (row[1] if row else None)
            after_email = email if email is not None else (row[2] if row else "")
            if after_role and Role(after_role).decides and not (after_email or "").strip():
                # Without it nobody can tell the reviewer's own mail from anyone else's.
                raise StoreError(
                    f"a {after_role} account needs an e-mail address (--email ADDRESS): "
                    "a reviewer may not decide on their own mail"
                )
            if row is None:
                if role is None:
                    raise StoreError(
                        f"no user {name!r}; create it with 'gateway user add {name} --role ROLE'"
                    )
                cur.execute(
                    "INSERT INTO users (name, role, email, password_hash, disabled, created_at, "
                    "os_user, lead) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        role,
                        (email or "").lower(),
                        password_hash or "",
                        int(bool(disabled)),
                        ts(now_utc()),
                        os_user or None,
                        int(bool(lead)),
                    ),
                )
                self._audit(
                    cur,
                    now_utc(),
                    actor,
                    "user-added",
                    None,
                    None,
                    {"user": name, "role": role, **({"lead": True} if lead else {})},
                )
                return
            if lead and not Role(str(after_role)).decides:
                raise StoreError("a safeguarding lead is a reviewer or admin account")
            for column, value in (
                ("role", role),
                ("email", email.lower() if email is not None else None),
                ("password_hash", password_hash),
                ("disabled", int(disabled) if disabled is not None else None),
                ("os_user", os_user or None),
                ("lead", int(lead) if lead is not None else None),
            ):
                if value is not None:
                    cur.execute(f"UPDATE users SET {column} = ? WHERE name = ?", (value, name))
            if role is not None or password_hash is not None or disabled is not None:
                # A new password, role or a disabled account: no session outlives the change.
                self._end_sessions(cur, name)
            changed = [
                k
                for k, v in (
                    ("role", role),
                    ("email", email),
                    ("password", password_hash),
                    ("disabled", disabled),
                    ("os_user", os_user),
                    ("lead", lead),
                )
                if v is not None
            ]
            self._audit(
                cur,
                now_utc(),
                actor,
                "user-changed",
                None,
                None,
                {"user": name, "changed": changed},
            )

    def user(self, name: str) -> User | None:
        return self._user_where("name", name)

    def user_of_os_user(self, login: str) -> User | None:
        """The account an operating-system login decides as (``gateway user add --os-user``)."""
        return self._user_where("os_user", login)

    def _user_where(self, column: str, value: str) -> User | None:
        with self._tx(write=False) as cur:
            row = cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE {column} = ?", (value,)
            ).fetchone()
        return _user(row) if row else None

    def end_sessions(self, name: str, *, actor: str, why: str) -> bool:
        """Every session of this account stops working at its next request (audited)."""
        with self._tx() as cur:
            if not self._end_sessions(cur, name):
                return False
            self._audit(
                cur, now_utc(), actor, "sessions-ended", None, None, {"user": name, "why": why}
            )
        return True

    @staticmethod
    def _end_sessions(cur: _Cursor, name: str) -> bool:
        return (
            cur.execute(
                "UPDATE users SET session_generation = session_generation + 1 WHERE name = ?",
                (name,),
            ).rowcount
            > 0
        )

    def reserve_login(
        self,
        name: str,
        client: str,
        since: datetime,
        wait: Callable[[LoginHistory], float],
        at: datetime | None = None,
    ) -> int | float:
        """Count this login attempt against its name and client before the password
        is checked: an id (give it to :meth:`login_succeeded` if the password was
        right; otherwise it stays counted as a failure), or the seconds to wait
        that ``wait`` answered for the history since ``since``.

        The count and the reservation are one transaction, under a lock on
        PostgreSQL (SQLite has one writer at a time), so forty concurrent
        attempts against a limit of five get five checks, not forty."""
        at = at or now_utc()
        name, client = name[:200], client[:100]
        with self._tx() as cur:
            lock = self._db.exclusive(_LOGIN_LOCK)
            if lock:
                cur.execute(lock)
            # Only the last day matters for throttling; keep the table small.
            cur.execute("DELETE FROM login_failures WHERE at < ?", (ts(at - timedelta(days=1)),))
            count = "SELECT COUNT(*), MAX(at) FROM login_failures WHERE at >= ? AND "
            by_name = cur.execute(count + "name = ?", (ts(since), name)).fetchone()
            by_client = cur.execute(count + "client = ?", (ts(since), client)).fetchone()
            by_both = cur.execute(
                count + "name = ? AND client = ?", (ts(since), name, client)
            ).fetchone()
            known = cur.execute(
                "SELECT 1 FROM login_clients WHERE name = ? AND client = ?", (name, client)
            ).fetchone()
            history = LoginHistory(
                name_failures=by_name[0],
                client_failures=by_client[0],
                known_client=known is not None,
                failures_here=by_both[0],
                last_failure_here=parse_ts(by_both[1]),
            )
            seconds = wait(history)
            if seconds > 0:
                return float(seconds)
            return cur.execute(
                "INSERT INTO login_failures (name, client, at) VALUES (?, ?, ?) RETURNING id",
                (name, client, ts(at)),
            ).fetchone()[0]

    def login_succeeded(self, reservation: int, name: str, client: str) -> None:
        """The reserved attempt was right: it is no failure, and this client is one the name uses."""
        with self._tx() as cur:
            cur.execute("DELETE FROM login_failures WHERE id = ?", (reservation,))
            cur.execute(
                "INSERT INTO login_clients (name, client, last_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name, client) DO UPDATE SET last_at = excluded.last_at",
                (name[:200], client[:100], ts(now_utc())),
            )

    @staticmethod
    def _message_of(cur: _Cursor, copy_id: int) -> str:
        """The message a copy belongs to, for its audit entry."""
        return cur.execute("SELECT message_id FROM copies WHERE id = ?", (copy_id,)).fetchone()[0]

    # -- audit -----------------------------------------------------------------
    def _audit(
        self,
        cur: _Cursor,
        at: datetime,
        actor: str,
        action: str,
        message_id: str | None,
        copy_id: int | None,
        detail: dict,
    ) -> None:
        cur.execute(
            "INSERT INTO audit (at, actor, action, message_id, copy_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (ts(at), actor, action, message_id, copy_id, json.dumps(detail, ensure_ascii=False)),
        )

    def audit(
        self,
        actor: str,
        action: str,
        *,
        message_id: str | None = None,
        copy_id: int | None = None,
        detail: dict | None = None,
    ) -> None:
        with self._tx() as cur:
            self._audit(cur, now_utc(), actor, action, message_id, copy_id, detail or {})

    def audit_log(
        self,
        copy_id: int | None = None,
        limit: int = 1000,
        *,
        actor: str | None = None,
        action: str | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        conditions, params = [], []
        for column, value in (("copy_id", copy_id), ("actor", actor), ("action", action)):
            if value is not None and value != "":
                conditions.append(f"{column} = ?")
                params.append(value)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        order = "DESC" if newest_first else ""
        with self._tx(write=False) as cur:
            rows = cur.execute(
                f"SELECT id, at, actor, action, message_id, copy_id, detail FROM audit {where} "
                f"ORDER BY id {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            AuditEntry(r[0], parse_required_ts(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6]))
            for r in rows
        ]


def _exception_detail(e: NewException) -> dict:
    return {
        "kind": e.kind,
        "value": e.value,
        "senders": list(e.senders),
        "recipients": list(e.recipients),
        "until": ts(e.until) if e.until else None,
    }


class _Cursor:
    """The few cursor operations the store needs, with one placeholder style (``?``)."""

    def __init__(self, conn: Any, db: sqlite.SQLite | postgres.PostgreSQL) -> None:
        self.conn = conn
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(self.conn, sql, params)


def _clean(text: str) -> str:
    """No control characters in what may later be shown or put in a header."""
    return printable(text)


def open_store(
    url: str | None = None, data_dir: str | Path | None = None, *, health_check: bool = False
) -> Store:
    """The configured store, or the embedded SQLite file in the data directory.

    ``health_check`` (the gateway's start) first reads every page of a SQLite
    file, or connects to PostgreSQL, and fails naming the file or server."""
    if not url:
        if data_dir is None:
            raise StoreError(
                "no store: give --data-dir (for the embedded SQLite store) or a [store] url"
            )
        url = f"sqlite:///{Path(data_dir).resolve() / 'chaperone.db'}"
    return Store(url, health_check=health_check)
