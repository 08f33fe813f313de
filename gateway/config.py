"""config/*.toml -> typed, validated configuration (the school's facts)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.detect.phones import canonical
from gateway.directory import Directory, load_directory
from gateway.rules import RuleError, RuleSet, _line_of, load_rules


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


def _err(path: Path, text: str, needle: str, message: str) -> RuleError:
    return RuleError(f"{path}:{_line_of(text, needle)}: {message}")


def load_config(path: str | Path) -> Config:
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
    rules = load_rules(rule_paths)
    sc = data.get("scanner", {})
    limits = ScannerLimits(
        deadline_seconds=float(sc.get("deadline_seconds", 10.0)),
        pattern_timeout_seconds=float(sc.get("pattern_timeout_seconds", 0.5)),
        max_mime_depth=int(sc.get("max_mime_depth", 40)),
        max_parts=int(sc.get("max_parts", 2000)),
    )
    return Config(path, school.get("name", ""), tz, region, directory, tuple(approved),
                  tuple(d.lower() for d in appr.get("email_domains", [])),
                  tuple(appr.get("platforms", [])), rules, limits)
