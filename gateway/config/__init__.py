"""config/*.toml -> typed, validated configuration (the school's facts)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from dataclasses import field as dataclasses_field
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.detect.phones import canonical
from gateway.judge.directory import Directory, load_directory
from gateway.judge.rules import RuleError, RuleSet, _line_of, load_rules


@dataclass(frozen=True, slots=True)
class ApprovedDetail:
    kind: str  # phone | email | account
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
    max_connections: int = 256
    timeout_seconds: float = 300.0
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
    scan_workers: int = 2
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


def _load_auth_users(path: Path, referenced_at: str) -> tuple[tuple[str, str], ...]:
    """[users] name = "$argon2id$..." (hashes from 'gateway smtp-password')."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise RuleError(f"{referenced_at}: cannot read SMTP users file {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}:{getattr(exc, 'lineno', 1)}: {exc}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise RuleError(f"{path}:1: [users] must map user names to password hashes")
    for name, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise RuleError(f"{path}:{_line_of(text, name)}: user {name!r}: not an argon2 hash "
                            "(make one with 'gateway smtp-password')")
    return tuple(users.items())


def _relay_settings(data: dict, base: Path, path: Path, text: str) -> RelaySettings:
    relay = data.get("relay", {})
    hop = data.get("next_hop", {})
    store = data.get("store", {})
    delivery = data.get("delivery", {})
    quarantine = data.get("quarantine", {})
    defaults = RelaySettings()

    def where(key: str) -> str:
        return f"{path}:{_line_of(text, key)}"

    try:
        nets = tuple(ip_network(n, strict=False) for n in relay.get("trusted_networks", ["127.0.0.0/8", "::1/128"]))
    except ValueError as exc:
        raise RuleError(f"{where('trusted_networks')}: {exc}") from None
    try:
        listen = parse_host_port(relay.get("listen", str(defaults.listen)), "relay.listen")
        next_hop = parse_host_port(hop.get("address", str(defaults.next_hop)), "next_hop.address")
        metrics = parse_host_port(relay["metrics_listen"], "relay.metrics_listen") if relay.get("metrics_listen") else None
    except ValueError as exc:
        raise RuleError(f"{where(str(exc).split()[0].split('.')[-1])}: {exc}") from None

    def opt_path(value: str | None) -> Path | None:
        return (base / value).resolve() if value else None

    cert, key = opt_path(relay.get("tls_certificate")), opt_path(relay.get("tls_key"))
    if bool(cert) != bool(key):
        raise RuleError(f"{where('tls_')}: give both relay.tls_certificate and relay.tls_key, or neither")
    auth_users: tuple[tuple[str, str], ...] = ()
    if relay.get("auth_users"):
        auth_users = _load_auth_users(base / relay["auth_users"], where("auth_users"))
        if not cert:
            raise RuleError(f"{where('auth_users')}: SMTP AUTH needs TLS: set relay.tls_certificate and relay.tls_key")
    settings = RelaySettings(
        listen=listen,
        hostname=str(relay.get("hostname", defaults.hostname)),
        trusted_networks=nets,
        sender_domains=tuple(d.lower() for d in relay.get("sender_domains", [])),
        max_message_bytes=int(relay.get("max_message_bytes", defaults.max_message_bytes)),
        max_recipients=int(relay.get("max_recipients", defaults.max_recipients)),
        max_connections=int(relay.get("max_connections", defaults.max_connections)),
        timeout_seconds=float(relay.get("timeout_seconds", defaults.timeout_seconds)),
        tls_certificate=cert,
        tls_key=key,
        require_tls=bool(relay.get("require_tls", False)),
        auth_users=auth_users,
        next_hop=next_hop,
        next_hop_starttls=bool(hop.get("starttls", False)),
        next_hop_ca_file=opt_path(hop.get("ca_file")),
        next_hop_timeout_seconds=float(hop.get("timeout_seconds", defaults.next_hop_timeout_seconds)),
        next_hop_connections=int(hop.get("connections", defaults.next_hop_connections)),
        data_dir=(base / relay.get("data_dir", "../var")).resolve(),
        store_url=str(store.get("url", "")),
        metrics_listen=metrics,
        scan_workers=int(relay.get("scan_workers", defaults.scan_workers)),
        min_free_disk_mb=int(relay.get("min_free_disk_mb", defaults.min_free_disk_mb)),
        retry_initial_seconds=float(delivery.get("retry_initial_seconds", defaults.retry_initial_seconds)),
        retry_max_seconds=float(delivery.get("retry_max_seconds", defaults.retry_max_seconds)),
        give_up_seconds=float(delivery.get("give_up_seconds", defaults.give_up_seconds)),
        lease_seconds=float(delivery.get("lease_seconds", 0.0)),
        expire_seconds=float(quarantine.get("expire_days", 30)) * 86400,
        remind_seconds_before=float(quarantine.get("remind_days_before", 3)) * 86400,
        two_person_categories=tuple(quarantine.get("two_person_release", [])),
    )
    if settings.max_recipients < 100:
        raise RuleError(f"{where('max_recipients')}: max_recipients must be at least 100 (RFC 5321 4.5.3.1.8)")
    if settings.min_free_disk_mb < 0:
        raise RuleError(f"{where('min_free_disk_mb')}: min_free_disk_mb must be 0 (off) or more")
    if settings.scan_workers < 1 or settings.next_hop_connections < 1 or settings.max_connections < 1:
        raise RuleError(f"{path}:1: scan_workers, connections and max_connections must be at least 1")
    return settings


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


_TEMPLATE_NAMES = ("held", "released", "rejected", "reviewer-held", "expired", "reviewer-reminder", "reviewer-digest")


def _notice_settings(data: dict, base: Path, path: Path, text: str, relay_hostname: str) -> NoticeSettings:
    n = data.get("notices", {})
    folder = (base / n.get("templates", "templates")).resolve()
    templates = {}
    for name in _TEMPLATE_NAMES:
        try:
            templates[name] = (folder / f"{name}.txt").read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"{path}:{_line_of(text, 'templates')}: cannot read notice template "
                            f"{folder / (name + '.txt')} ({exc.strerror})") from None
        html_file = folder / f"{name}.html"  # optional: without it the HTML part is the text, escaped
        if html_file.exists():
            try:
                templates[name + ".html"] = html_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise RuleError(f"{path}:1: cannot read notice template {html_file} ({exc.strerror})") from None
    reviewers = tuple(n.get("reviewers", []))
    for address in (n.get("from", ""), *reviewers):
        if address and ("@" not in address or any(c in address for c in "\r\n<>, ")):
            raise RuleError(f"{path}:{_line_of(text, address)}: {address!r} is not a plain e-mail address")
    mode = n.get("reviewers_on_hold", "each")
    mode = {True: "each", False: "off"}.get(mode, mode)
    if mode not in ("each", "digest", "off"):
        raise RuleError(f"{path}:{_line_of(text, 'reviewers_on_hold')}: reviewers_on_hold must be each, digest or off")
    return NoticeSettings(
        from_address=n.get("from", "") or f"chaperone@{relay_hostname}",
        reviewers=reviewers,
        sender_on_hold=bool(n.get("sender_on_hold", True)),
        sender_on_decision=bool(n.get("sender_on_decision", True)),
        reviewers_on_hold=mode,
        digest_hours=float(n.get("digest_hours", 4.0)),
        review_url=str(n.get("review_url", "")),
        templates=templates,
    )


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: HostPort = HostPort("127.0.0.1", 8080)
    # Signs session cookies; every web process of one school must share it.
    # Empty: a file in the data directory, created on first start.
    secret_file: Path | None = None
    https: bool = False  # served over TLS (directly or behind a proxy): Secure cookies


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


def _err(path: Path, text: str, needle: str, message: str) -> RuleError:
    return RuleError(f"{path}:{_line_of(text, needle)}: {message}")


def with_exceptions(config: Config, rows: list[dict]) -> Config:
    """The configuration plus approved details reviewers added in the store (see Store.exceptions)."""
    import dataclasses

    extra = tuple(ApprovedDetail(r["kind"], r["value"], r["label"], r["until"], tuple(r["senders"]),
                                 tuple(r["recipients"])) for r in rows)
    return dataclasses.replace(config, approved=config.approved + extra) if extra else config


def load_config(path: str | Path, *, with_rules: bool = True) -> Config:
    """Read and validate; ``with_rules=False`` skips the rule files (for store commands)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}:1: cannot read configuration ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}:{getattr(exc, 'lineno', 1)}: {exc}") from None
    base = path.parent
    school = data.get("school", {})
    try:
        tz = ZoneInfo(school.get("timezone", "Europe/London"))
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(path, text, "timezone", f"unknown time zone {school.get('timezone')!r}") from None
    region = school.get("phone_region", "GB")
    directory = load_directory(data.get("domains", {}), data.get("directory", {}), base, path, text)
    approved: list[ApprovedDetail] = []
    appr = data.get("approved", {})
    for entry in appr.get("phones", []):
        e164 = canonical(str(entry.get("number", "")), region)
        if not e164:
            raise _err(path, text, str(entry.get("number")), f"approved phone {entry.get('number')!r} is not a phone number")
        approved.append(ApprovedDetail("phone", e164, entry.get("label", "")))
    for entry in appr.get("accounts", []):
        approved.append(ApprovedDetail("account", f"{entry['platform'].lower()}:{entry['handle'].lstrip('@').lower()}", entry.get("label", "")))
    for entry in data.get("exceptions", []):
        kind = entry.get("kind")
        raw = str(entry.get("value", ""))
        if kind == "phone":
            value = canonical(raw, region)
            if not value:
                raise _err(path, text, raw, f"exception value {raw!r} is not a phone number")
        elif kind == "email":
            value = raw.lower()
        elif kind == "account":
            value = raw.lower().replace("@", "")
        else:
            raise _err(path, text, "[[exceptions]]", f"exception kind must be phone, email or account (got {kind!r})")
        until = entry.get("until")
        until_dt = None
        if isinstance(until, datetime):
            until_dt = until if until.tzinfo else until.replace(tzinfo=tz)
        elif isinstance(until, date):
            # "valid until 2026-12-20": approved through that whole day.
            until_dt = datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz)
        elif until is not None:
            raise _err(path, text, "until", "exception 'until' must be a TOML date such as 2026-12-20")
        approved.append(ApprovedDetail(kind, value, entry.get("label", ""), until_dt,
                                       tuple(s.lower() for s in entry.get("senders", [])),
                                       tuple(r.lower() for r in entry.get("recipients", []))))
    rule_paths = [(base / p).resolve() for p in data.get("rules", {}).get("paths", ["../rules"])]
    rules = load_rules(rule_paths) if with_rules else RuleSet(())
    sc = data.get("scanner", {})
    limits = ScannerLimits(
        deadline_seconds=float(sc.get("deadline_seconds", 10.0)),
        pattern_timeout_seconds=float(sc.get("pattern_timeout_seconds", 0.5)),
        max_mime_depth=int(sc.get("max_mime_depth", 40)),
        max_parts=int(sc.get("max_parts", 2000)),
    )
    files = data.get("directory", {})
    sources = (path.resolve(), *((base / files[k]).resolve() for k in ("parents", "staff") if files.get(k)),
               *(Path(f).resolve() for f in rules.files), *rule_paths)  # folders: a new file changes their mtime
    relay = _relay_settings(data, base, path, text)
    w = data.get("web", {})
    try:
        web = WebSettings(listen=parse_host_port(w.get("listen", "127.0.0.1:8080"), "web.listen"),
                          secret_file=(base / w["secret_file"]).resolve() if w.get("secret_file") else None,
                          https=bool(w.get("https", False)))
    except ValueError as exc:
        raise RuleError(f"{path}:{_line_of(text, '[web]')}: {exc}") from None
    return Config(path, school.get("name", ""), tz, region, directory, tuple(approved),
                  tuple(d.lower() for d in appr.get("email_domains", [])),
                  tuple(appr.get("platforms", [])), rules, limits,
                  relay, _notice_settings(data, base, path, text, relay.hostname), web, sources)
