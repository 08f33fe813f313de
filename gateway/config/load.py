"""config/*.toml -> a checked, typed ``Config``; any mistake is ``file:line: what is wrong``."""

from __future__ import annotations

import csv
import dataclasses
import tomllib
from datetime import date, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config import schema
from gateway.config.settings import (
    ApprovedDetail,
    ConcernSettings,
    Config,
    NoticeSettings,
    RelaySettings,
    ScannerLimits,
    WebSettings,
    parse_host_port,
    through_day,
)
from gateway.detect import canonical_detail
from gateway.detect.platforms import mentions, rule_words
from gateway.judge.directory import Directory
from gateway.judge.rules import CATEGORIES, RuleError, RuleSet, RulesUncovered, _line_of, load_rules
from gateway.mail import DetailKind, RecipientClass


def _load_auth_users(path: Path, referenced_at: str) -> tuple[tuple[str, str], ...]:
    """[users] name = "$argon2id$..." (hashes from 'gateway smtp-password')."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise RuleError(
            f"{referenced_at}: cannot read SMTP users file {path} ({exc.strerror})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}:{getattr(exc, 'lineno', 1)}: {exc}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise RuleError(f"{path}:1: [users] must map user names to password hashes")
    for name, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise RuleError(
                f"{path}:{_line_of(text, name)}: user {name!r}: not an argon2 hash "
                "(make one with 'gateway smtp-password')"
            )
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
        nets = tuple(
            ip_network(n, strict=False)
            for n in relay.get("trusted_networks", ["127.0.0.0/8", "::1/128"])
        )
    except ValueError as exc:
        raise RuleError(f"{where('trusted_networks')}: {exc}") from None
    try:
        listen = parse_host_port(relay.get("listen", str(defaults.listen)), "relay.listen")
        next_hop = parse_host_port(hop.get("address", str(defaults.next_hop)), "next_hop.address")
        metrics = (
            parse_host_port(relay["metrics_listen"], "relay.metrics_listen")
            if relay.get("metrics_listen")
            else None
        )
    except ValueError as exc:
        raise RuleError(f"{where(str(exc).split()[0].split('.')[-1])}: {exc}") from None

    def opt_path(value: str | None) -> Path | None:
        return (base / value).resolve() if value else None

    cert, key = opt_path(relay.get("tls_certificate")), opt_path(relay.get("tls_key"))
    if bool(cert) != bool(key):
        raise RuleError(
            f"{where('tls_')}: give both relay.tls_certificate and relay.tls_key, or neither"
        )
    auth_users: tuple[tuple[str, str], ...] = ()
    if relay.get("auth_users"):
        auth_users = _load_auth_users(base / relay["auth_users"], where("auth_users"))
        if not cert:
            raise RuleError(
                f"{where('auth_users')}: SMTP AUTH needs TLS: set relay.tls_certificate and relay.tls_key"
            )
    settings = RelaySettings(
        listen=listen,
        hostname=str(relay.get("hostname", defaults.hostname)),
        trusted_networks=nets,
        sender_domains=tuple(d.lower() for d in relay.get("sender_domains", [])),
        max_message_bytes=int(relay.get("max_message_bytes", defaults.max_message_bytes)),
        max_recipients=int(relay.get("max_recipients", defaults.max_recipients)),
        max_hops=int(relay.get("max_hops", defaults.max_hops)),
        max_connections=int(relay.get("max_connections", defaults.max_connections)),
        max_connections_per_address=int(
            relay.get("max_connections_per_address", defaults.max_connections_per_address)
        ),
        timeout_seconds=float(relay.get("timeout_seconds", defaults.timeout_seconds)),
        timeout_before_auth_seconds=float(
            relay.get("timeout_before_auth_seconds", defaults.timeout_before_auth_seconds)
        ),
        tls_certificate=cert,
        tls_key=key,
        require_tls=bool(relay.get("require_tls", False)),
        auth_users=auth_users,
        next_hop=next_hop,
        next_hop_starttls=bool(hop.get("starttls", False)),
        next_hop_ca_file=opt_path(hop.get("ca_file")),
        next_hop_timeout_seconds=float(
            hop.get("timeout_seconds", defaults.next_hop_timeout_seconds)
        ),
        next_hop_connections=int(hop.get("connections", defaults.next_hop_connections)),
        data_dir=(base / relay.get("data_dir", "../var")).resolve(),
        store_url=str(store.get("url", "")),
        metrics_listen=metrics,
        processes=int(relay.get("processes", defaults.processes)),
        scan_workers=int(relay.get("scan_workers", defaults.scan_workers)),
        min_free_disk_mb=int(relay.get("min_free_disk_mb", defaults.min_free_disk_mb)),
        retry_initial_seconds=float(
            delivery.get("retry_initial_seconds", defaults.retry_initial_seconds)
        ),
        retry_max_seconds=float(delivery.get("retry_max_seconds", defaults.retry_max_seconds)),
        give_up_seconds=float(delivery.get("give_up_seconds", defaults.give_up_seconds)),
        lease_seconds=float(delivery.get("lease_seconds", 0.0)),
        expire_seconds=float(quarantine.get("expire_days", 30)) * 86400,
        remind_seconds_before=float(quarantine.get("remind_days_before", 3)) * 86400,
        two_person_categories=tuple(quarantine.get("two_person_release", [])),
    )
    return settings  # ranges and types: checked by the schema before this ran


_TEMPLATE_NAMES = (
    "held",
    "released",
    "rejected",
    "reviewer-held",
    "expired",
    "reviewer-reminder",
    "reviewer-digest",
)
# Templates added since schools copied theirs: read when the folder has them.
_OPTIONAL_TEMPLATES = ("concern",)


def _notice_settings(
    data: dict, base: Path, path: Path, text: str, relay_hostname: str
) -> NoticeSettings:
    n = data.get("notices", {})
    folder = (base / n.get("templates", "templates")).resolve()
    templates = {}
    for name in _TEMPLATE_NAMES:
        try:
            templates[name] = (folder / f"{name}.txt").read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(
                f"{path}:{_line_of(text, 'templates')}: cannot read notice template "
                f"{folder / (name + '.txt')} ({exc.strerror})"
            ) from None
        html_file = (
            folder / f"{name}.html"
        )  # optional: without it the HTML part is the text, escaped
        if html_file.exists():
            try:
                templates[name + ".html"] = html_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise RuleError(
                    f"{path}:1: cannot read notice template {html_file} ({exc.strerror})"
                ) from None
    for name in _OPTIONAL_TEMPLATES:  # without it, the built-in text (gateway.review.concerns)
        optional = folder / f"{name}.txt"
        if optional.exists():
            try:
                templates[name] = optional.read_text(encoding="utf-8")
            except OSError as exc:
                raise RuleError(
                    f"{path}:1: cannot read notice template {optional} ({exc.strerror})"
                ) from None
    reviewers = tuple(n.get("reviewers", []))
    for address in (n.get("from", ""), *reviewers):
        if address and ("@" not in address or any(c in address for c in "\r\n<>, ")):
            raise RuleError(
                f"{path}:{_line_of(text, address)}: {address!r} is not a plain e-mail address"
            )
    mode = n.get("reviewers_on_hold", "each")  # the schema allows each, digest, off, true, false
    mode = {True: "each", False: "off"}.get(mode, mode)
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


def _check_coverage(
    rules: RuleSet,
    data: dict,
    rule_paths: list[Path],
    path: Path,
    text: str,
    warnings: list[str],
) -> None:
    """Every category the school requires ([rules] categories, default all seven) has a
    rule: a rule file emptied or cut short must not switch a category off unseen. A
    category is switched off on purpose by keeping its rules with action = "off"."""
    required = data.get("rules", {}).get("categories", list(CATEGORIES))
    unknown = [c for c in required if c not in CATEGORIES]
    if unknown:
        raise _err(path, text, unknown[0], f"[rules] categories: unknown category '{unknown[0]}'")
    have = {r.category for r in rules.rules}
    missing = [c for c in required if c not in have]
    if missing:
        where = ", ".join(str(p) for p in rule_paths)
        raise RulesUncovered(
            f"{path}:{_line_of(text, '[rules]')}: no rule for {', '.join(missing)} in {where}; "
            'to switch a category off keep its rules with action = "off", or leave it out '
            "of [rules] categories"
        )
    active = {r.category for r in rules.active}
    for c in required:
        if c not in active:
            warnings.append(f'every rule for {c} is switched off (action = "off")')


def _err(path: Path, text: str, needle: str, message: str) -> RuleError:
    return RuleError(f"{path}:{_line_of(text, needle)}: {message}")


def with_exceptions(config: Config, rows: list[dict]) -> Config:
    """The configuration plus approved details reviewers added in the store (see Store.exceptions)."""
    extra = tuple(
        ApprovedDetail(
            DetailKind(r["kind"]),
            r["value"],
            r["label"],
            r["until"],
            tuple(r["senders"]),
            tuple(r["recipients"]),
        )
        for r in rows
    )
    return dataclasses.replace(config, approved=config.approved + extra) if extra else config


def load_config(
    path: str | Path,
    *,
    with_rules: bool = True,
    rule_changes: dict[str, dict[str, object]] | None = None,
) -> Config:
    """Read and validate; ``with_rules=False`` skips the rule files (for store commands);
    ``rule_changes`` are changes made in the app (see ``load_rules``).

    Every problem is a ``RuleError`` naming the file and line: the schema
    catches wrong types, values and missing keys first, so nothing below
    meets a value of the wrong shape.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}:1: cannot read configuration ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}:1: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}:{getattr(exc, 'lineno', 1)}: {exc}") from None
    warnings = schema.check(data, text, str(path))
    try:
        return _build(path, text, data, warnings, with_rules=with_rules, changed=rule_changes)
    except RuleError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        # The schema should have said where; this is the net under it, so a
        # running gateway keeps its last good configuration whatever is written.
        raise RuleError(
            f"{path}:1: the configuration cannot be used ({type(exc).__name__}: {exc})"
        ) from None


_DETAIL_WORDS = {
    DetailKind.PHONE: "a phone number",
    DetailKind.EMAIL: "an e-mail address",
    DetailKind.ACCOUNT: "an account (write it as platform:handle)",
}


def _approved_detail(kind: DetailKind, written: str, region: str, where: str, what: str) -> str:
    value = canonical_detail(kind, written, region)
    if not value:
        raise RuleError(f"{where}: {what} {written!r} is not {_DETAIL_WORDS[kind]}")
    return value


def _build(
    path: Path,
    text: str,
    data: dict[str, Any],
    warnings: list[str],
    *,
    with_rules: bool,
    changed: dict[str, dict[str, object]] | None = None,
) -> Config:
    base = path.parent
    school = data.get("school", {})
    try:
        tz = ZoneInfo(school.get("timezone", "Europe/London"))
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(
            path, text, "timezone", f"unknown time zone {school.get('timezone')!r}"
        ) from None
    region = school.get("phone_region", "GB")
    directory = load_directory(data.get("domains", {}), data.get("directory", {}), base, path)
    approved: list[ApprovedDetail] = []
    appr = data.get("approved", {})
    line = schema.Locator(text).line
    for i, entry in enumerate(appr.get("phones", [])):
        where = f"{path}:{line(('approved', 'phones', i))}"
        approved.append(
            ApprovedDetail(
                DetailKind.PHONE,
                _approved_detail(
                    DetailKind.PHONE, entry["number"], region, where, "approved phone"
                ),
                entry.get("label", ""),
            )
        )
    for i, entry in enumerate(appr.get("accounts", [])):
        where = f"{path}:{line(('approved', 'accounts', i))}"
        approved.append(
            ApprovedDetail(
                DetailKind.ACCOUNT,
                _approved_detail(
                    DetailKind.ACCOUNT,
                    f"{entry['platform']}:{entry['handle']}",
                    region,
                    where,
                    "approved account",
                ),
                entry.get("label", ""),
            )
        )
    for i, entry in enumerate(data.get("exceptions", [])):
        where = f"{path}:{line(('exceptions', i, 'value'))}"
        kind = DetailKind(entry["kind"])
        value = _approved_detail(kind, entry["value"], region, where, "exception value")
        until = entry.get("until")
        until_dt = None
        if isinstance(until, datetime):
            until_dt = until if until.tzinfo else until.replace(tzinfo=tz)
        elif isinstance(until, date):
            until_dt = through_day(until, tz)
        approved.append(
            ApprovedDetail(
                kind,
                value,
                entry.get("label", ""),
                until_dt,
                tuple(s.lower() for s in entry.get("senders", [])),
                tuple(r.lower() for r in entry.get("recipients", [])),
            )
        )
    rule_paths = [(base / p).resolve() for p in data.get("rules", {}).get("paths", ["../rules"])]
    platforms = tuple(appr.get("platforms", []))
    rules = (
        load_rules(
            rule_paths,
            {
                "approved_platforms": mentions(platforms),
                # Every platform of the registry the school has not approved.
                "platform": rule_words(platforms),
                # The official accounts' handles: "follow @heartofenglandschool" is fine.
                "approved_accounts": sorted(
                    {a.value.split(":", 1)[-1] for a in approved if a.kind == DetailKind.ACCOUNT}
                ),
            },
            changed,
        )
        if with_rules
        else RuleSet(())
    )
    if with_rules:
        _check_coverage(rules, data, rule_paths, path, text, warnings)
    sc = data.get("scanner", {})
    limits = ScannerLimits(
        deadline_seconds=float(sc.get("deadline_seconds", 10.0)),
        pattern_timeout_seconds=float(sc.get("pattern_timeout_seconds", 0.5)),
        max_mime_depth=int(sc.get("max_mime_depth", 40)),
        max_parts=int(sc.get("max_parts", 2000)),
        unreadable=tuple({**dict(ScannerLimits().unreadable), **sc.get("unreadable", {})}.items()),
    )
    files = data.get("directory", {})
    sources = (
        path.resolve(),
        *((base / files[k]).resolve() for k in ("parents", "staff") if files.get(k)),
        *(Path(f).resolve() for f in rules.files),
        *rule_paths,
    )  # folders: a new file changes their mtime
    relay = _relay_settings(data, base, path, text)
    w = data.get("web", {})
    try:
        web = WebSettings(
            listen=parse_host_port(w.get("listen", "127.0.0.1:8080"), "web.listen"),
            secret_file=(base / w["secret_file"]).resolve() if w.get("secret_file") else None,
            https=bool(w.get("https", False)),
            trusted_proxies=tuple(
                ip_network(n, strict=False) for n in w.get("trusted_proxies", [])
            ),
            corpora=tuple((base / c).resolve() for c in w.get("corpora", [])),
        )
    except ValueError as exc:
        raise RuleError(f"{path}:{_line_of(text, '[web]')}: {exc}") from None
    return Config(
        path,
        school.get("name", ""),
        tz,
        region,
        directory,
        tuple(approved),
        tuple(d.lower() for d in appr.get("email_domains", [])),
        platforms,
        rules,
        limits,
        relay,
        _notice_settings(data, base, path, text, relay.hostname),
        web,
        sources,
        tuple(warnings),
        concerns=ConcernSettings(
            breaches=int(data.get("concerns", {}).get("breaches", 3)),
            days=float(data.get("concerns", {}).get("days", 30)),
        ),
    )


def _read_csv(path: Path, config_path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise RuleError(
            f"{config_path}:1: cannot read directory file {path} ({exc.strerror})"
        ) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RuleError(f"{path}:1: cannot read this directory file as UTF-8 CSV ({exc})") from None


def load_directory(domains: dict, files: dict, base: Path, config_path: Path) -> Directory:
    # The schema (gateway.config.schema) has checked every value's type and choice.
    unknown = RecipientClass(domains.get("unknown_external", "parent"))
    parents: set[str] = set()
    students: set[str] = set()
    staff_names: list[str] = []
    if files.get("parents"):
        for row in _read_csv(base / files["parents"], config_path):
            if row.get("email"):
                parents.add(row["email"].strip().lower())
            if row.get("student_email"):
                students.add(row["student_email"].strip().lower())
    if files.get("staff"):
        for row in _read_csv(base / files["staff"], config_path):
            if row.get("name"):
                staff_names.append(row["name"].strip())
    low = lambda xs: tuple(x.lower() for x in xs)  # noqa: E731
    return Directory(
        low(domains.get("staff", [])),
        low(domains.get("student", [])),
        low(domains.get("partner", [])),
        unknown,
        frozenset(parents),
        frozenset(students),
        tuple(staff_names),
    )
