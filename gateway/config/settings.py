"""The school's facts and the gateway's settings, as typed values.

Loaded once from ``config/gateway.toml`` (``gateway.config.load``), checked
key by key against ``gateway.config.schema``, and passed in: no module reads
configuration files on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclasses_field
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.judge.directory import Directory
from gateway.judge.rules import RuleSet
from gateway.mail import DetailKind


@dataclass(frozen=True, slots=True)
class ApprovedDetail:
    kind: DetailKind
    value: str  # canonical: E.164, address, platform:handle
    label: str
    until: datetime | None = None  # approved while the scan time is before this
    senders: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()

    def applies(self, at: datetime, sender: str, recipient: str) -> bool:
        if self.until is not None and at >= self.until:
            return False
        if self.senders and sender.lower() not in self.senders:
            return False
        return not (self.recipients and recipient.lower() not in self.recipients)


@dataclass(frozen=True, slots=True)
class ScannerLimits:
    deadline_seconds: float = 10.0
    pattern_timeout_seconds: float = 0.5
    max_mime_depth: int = 40
    max_parts: int = 2000
    # What a copy's verdict is when a part of it could not be read, by kind
    # (gateway.read.message.Unread): held by default, media passed with a note.
    unreadable: tuple[tuple[str, str], ...] = (
        ("encrypted", "quarantine"),
        ("document", "quarantine"),
        ("failed", "quarantine"),
        ("media", "pass"),
    )

    def on_unreadable(self, kind: str) -> str:
        return dict(self.unreadable).get(kind, "quarantine")


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(value: str, what: str) -> HostPort:
    """'127.0.0.1:2525', '[::1]:2525' or 'mail.example:25'."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{what} must be HOST:PORT (got {value!r})")
    return HostPort(host.strip("[]"), int(port))


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """How the SMTP edge listens, whom it serves and where clean mail goes.

    Unlike rules and the directory, these are read at start: changing them
    needs a restart.
    """

    listen: HostPort = HostPort("127.0.0.1", 2525)
    hostname: str = "chaperone.localdomain"
    # Clients from these networks may relay; nobody else may.
    trusted_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    # Envelope senders must be at these domains (or subdomains); empty = any.
    sender_domains: tuple[str, ...] = ()
    max_message_bytes: int = 50 * 1024 * 1024
    max_recipients: int = 1000
    # A message that has passed this many mail servers (Received headers) is in
    # a loop: refused with 554 5.4.6, like Postfix's hopcount_limit.
    max_hops: int = 50
    max_connections: int = 256
    # Clients outside trusted_networks (they may only log in with SMTP AUTH):
    # at most this many connections per address, and together at most half
    # of max_connections, so the other half is always there for the school's
    # own mail servers.
    max_connections_per_address: int = 10
    timeout_seconds: float = 300.0
    # A client outside trusted_networks that has not logged in is cut off
    # after this much silence, not after timeout_seconds.
    timeout_before_auth_seconds: float = 30.0
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    # SMTP AUTH (offered only over TLS): user name -> argon2 hash.
    auth_users: tuple[tuple[str, str], ...] = ()
    next_hop: HostPort = HostPort("127.0.0.1", 2526)
    next_hop_starttls: bool = False  # STARTTLS with certificate checks
    next_hop_ca_file: Path | None = None
    next_hop_timeout_seconds: float = 120.0
    next_hop_connections: int = 20
    data_dir: Path = Path("var")
    store_url: str = ""  # empty: SQLite in data_dir
    metrics_listen: HostPort | None = None
    # Relay processes, each with its own event loop, sharing the SMTP port
    # (SO_REUSEPORT: the kernel spreads connections), the store and the
    # delivery queue under one supervising parent (gateway.app.processes).
    processes: int = 1
    # Scan worker processes per relay process; 0: see ``scan_workers_each``.
    scan_workers: int = 0
    # Below this much free space on the embedded store's disk, MAIL is answered
    # 452 4.3.1 (clients keep the mail and retry) rather than risk a failed
    # commit (like Postfix's queue_minfree). 0 turns the check off.
    min_free_disk_mb: int = 100
    # Held copies nobody decided on expire (the sender is told); reviewers are
    # reminded this long before.
    expire_seconds: float = 30 * 24 * 3600.0
    remind_seconds_before: float = 3 * 24 * 3600.0
    # Copies held for these categories need two different reviewers to release.
    two_person_categories: tuple[str, ...] = ()
    retry_initial_seconds: float = 300.0
    retry_max_seconds: float = 3600.0
    give_up_seconds: float = 5 * 24 * 3600.0
    # How long a delivery attempt owns a copy; if its worker dies, another
    # attempt starts after this (0: twice the next hop's timeout, at least 60 s).
    lease_seconds: float = 0.0

    def scan_workers_each(self, cpus: int) -> int:
        """Scan workers for each relay process: ``scan_workers`` when set; otherwise
        2 for a single process (as always), and with several the machine's cores
        shared out (``cpus // processes``, at least 1), so that all the relay
        processes together scan with about one worker per core."""
        if self.scan_workers:
            return self.scan_workers
        if self.processes == 1:
            return 2
        return max(1, cpus // self.processes)


@dataclass(frozen=True, slots=True)
class NoticeSettings:
    """Who is told what, and from which address. Templates are plain text with $names."""

    from_address: str = ""
    reviewers: tuple[str, ...] = ()
    sender_on_hold: bool = True
    sender_on_decision: bool = True
    reviewers_on_hold: str = "each"  # each: a notice per held message; digest: a summary; off
    digest_hours: float = 4.0
    review_url: str = ""  # the web app's address, for links in reviewer notices
    templates: dict[str, str] = dataclasses_field(default_factory=dict)  # name -> template text


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: HostPort = HostPort("127.0.0.1", 8080)
    # Signs session cookies; every web process of one school must share it.
    # Empty: a file in the data directory, created on first start.
    secret_file: Path | None = None
    https: bool = False  # served over TLS (directly or behind a proxy): Secure cookies, HSTS
    # Proxies whose X-Forwarded-For names the client (for login limits and the
    # audit); from any other peer the header is ignored.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # Labelled corpora (gateway eval's manifest.jsonl) an admin may try a rule draft on.
    corpora: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class ConcernSettings:
    """When a member of staff's confirmed breaches open an entry in the concerns log."""

    breaches: int = 3  # confirmed breaches (messages) ...; 0: never
    days: float = 30.0  # ... decided within this many days


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    school_name: str
    timezone: ZoneInfo
    phone_region: str
    directory: Directory
    approved: tuple[ApprovedDetail, ...]
    organisation_domains: tuple[str, ...]
    official_platforms: tuple[str, ...]
    rules: RuleSet
    limits: ScannerLimits
    relay: RelaySettings = RelaySettings()
    notices: NoticeSettings = NoticeSettings()
    web: WebSettings = WebSettings()
    # Every file this configuration was read from: a running gateway reloads
    # when one of them changes.
    sources: tuple[Path, ...] = ()
    # Unknown keys and other things worth a look that do not stop loading.
    warnings: tuple[str, ...] = ()
    concerns: ConcernSettings = ConcernSettings()


def through_day(day: date, tz: ZoneInfo) -> datetime:
    """ "Until 2026-12-20" means through that whole day, in the school's time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
