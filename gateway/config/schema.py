"""Every key of ``gateway.toml``, its type and allowed values, checked before anything is built.

The check runs on the parsed TOML and answers ``file:line: what is wrong``
for a wrong type, a value out of range or not among the allowed ones, or a
missing required key, so a typo can never surface later as a ``KeyError``
in a running gateway. Unknown keys are warnings (a newer setting read by an
older gateway should not stop mail), returned for the caller to show.

The schema is data (``SCHEMA`` below), one entry per key, so the settings a
school can write are listed here once; their meanings are documented in
``config/gateway.toml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import regex

from gateway.judge.rules import CATEGORIES, RuleError


@dataclass(frozen=True, slots=True)
class Value:
    """A scalar or a list of scalars."""

    type: str  # "str", "int", "number", "bool", "date", "list"
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    item: Value | Table | None = None  # for lists: each element's schema


@dataclass(frozen=True, slots=True)
class Table:
    keys: dict[str, Value | Table] = field(default_factory=dict)
    required: bool = False


def _str(**kw: Any) -> Value:
    return Value("str", **kw)


def _strs() -> Value:
    return Value("list", item=_str())


def _num(minimum: float | None = None) -> Value:
    return Value("number", minimum=minimum)


def _int(minimum: int | None = None) -> Value:
    return Value("int", minimum=minimum)


_BOOL = Value("bool")

SCHEMA = Table(
    {
        "school": Table({"name": _str(), "timezone": _str(), "phone_region": _str()}),
        "domains": Table(
            {
                "staff": _strs(),
                "student": _strs(),
                "partner": _strs(),
                "unknown_external": _str(choices=("parent", "student", "partner")),
            }
        ),
        "directory": Table({"parents": _str(), "staff": _str()}),
        "approved": Table(
            {
                "phones": Value(
                    "list", item=Table({"number": _str(required=True), "label": _str()})
                ),
                "accounts": Value(
                    "list",
                    item=Table(
                        {
                            "platform": _str(required=True),
                            "handle": _str(required=True),
                            "label": _str(),
                        }
                    ),
                ),
                "email_domains": _strs(),
                "platforms": _strs(),
            }
        ),
        "exceptions": Value(
            "list",
            item=Table(
                {
                    "kind": _str(required=True, choices=("phone", "email", "account")),
                    "value": _str(required=True),
                    "label": _str(),
                    "until": Value("date"),
                    "agreed_by": _str(),
                    "senders": _strs(),
                    "recipients": _strs(),
                }
            ),
        ),
        "rules": Table({"paths": _strs(), "categories": _strs()}),
        "scanner": Table(
            {
                "deadline_seconds": _num(minimum=0.0001),
                "pattern_timeout_seconds": _num(minimum=0.001),
                "max_mime_depth": _int(minimum=1),
                "max_parts": _int(minimum=1),
                "unreadable": Table(
                    {
                        kind: _str(choices=("quarantine", "flag", "pass"))
                        for kind in ("encrypted", "document", "failed", "media")
                    }
                ),
            }
        ),
        "relay": Table(
            {
                "listen": _str(),
                "hostname": _str(),
                "trusted_networks": _strs(),
                "sender_domains": _strs(),
                "max_message_bytes": _int(minimum=1024),
                "max_recipients": _int(minimum=100),  # RFC 5321 4.5.3.1.8
                "max_hops": _int(minimum=1),
                "max_connections": _int(minimum=1),
                "max_connections_per_address": _int(minimum=1),
                "timeout_seconds": _num(minimum=0.1),
                "timeout_before_auth_seconds": _num(minimum=0.1),
                "tls_certificate": _str(),
                "tls_key": _str(),
                "require_tls": _BOOL,
                "auth_users": _str(),
                "data_dir": _str(),
                "metrics_listen": _str(),
                "processes": _int(minimum=1),
                "scan_workers": _int(minimum=1),
                "min_free_disk_mb": _int(minimum=0),
            }
        ),
        "next_hop": Table(
            {
                "address": _str(),
                "starttls": _BOOL,
                "ca_file": _str(),
                "timeout_seconds": _num(minimum=0.1),
                "connections": _int(minimum=1),
            }
        ),
        "delivery": Table(
            {
                "retry_initial_seconds": _num(minimum=0.01),
                "retry_max_seconds": _num(minimum=0.01),
                "give_up_seconds": _num(minimum=1),
                "lease_seconds": _num(minimum=0),
            }
        ),
        "store": Table({"url": _str()}),
        "notices": Table(
            {
                "from": _str(),
                "reviewers": _strs(),
                "sender_on_hold": _BOOL,
                "sender_on_decision": _BOOL,
                "reviewers_on_hold": Value("any", choices=("each", "digest", "off", True, False)),
                "digest_hours": _num(minimum=0.01),
                "review_url": _str(),
                "templates": _str(),
            }
        ),
        "quarantine": Table(
            {
                "expire_days": _num(minimum=0.001),
                "remind_days_before": _num(minimum=0),
                "two_person_release": Value("list", item=_str(choices=CATEGORIES)),
            }
        ),
        "concerns": Table({"breaches": _int(minimum=0), "days": _num(minimum=1)}),
        "web": Table(
            {
                "listen": _str(),
                "secret_file": _str(),
                "https": _BOOL,
                "trusted_proxies": _strs(),
                "corpora": _strs(),
            }
        ),
    }
)

_TYPE_NAMES = {
    "str": "a string",
    "int": "a whole number",
    "number": "a number",
    "bool": "true or false",
    "date": "a date such as 2026-12-20",
    "list": "a list",
    "table": "a table",
}


class Locator:
    """Line numbers for key paths in TOML text, found the way a reader would:
    the table's header, then the key within it."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _header(self, name: str, index: int | None) -> int:
        """0-based line of ``[name]``, or of the ``index``-th ``[[name]]``; -1 if none."""
        pattern = regex.compile(
            r"\s*\[\[\s*" + regex.escape(name) + r"\s*\]\]"
            if index is not None
            else r"\s*\[\s*" + regex.escape(name) + r"\s*\]"
        )
        seen = 0
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                if index is None or seen == index:
                    return i
                seen += 1
        return -1

    def line(self, path: tuple[str | int, ...]) -> int:
        """1-based line where ``path`` (keys and list indexes) is written, as near as can be told."""
        if not path:
            return 1
        top = path[0]
        rest = list(path[1:])
        first = rest[0] if rest else None
        index = first if isinstance(first, int) else None
        if index is not None:
            rest.pop(0)
        start = self._header(str(top), index)
        if start < 0:  # a top-level key, or a dotted table
            start = self._find_key(str(top), 0)
            return start + 1 if start >= 0 else 1
        at = start
        for part in rest:
            if isinstance(part, int):  # the n-th inline table of a list
                seen = -1
                for i in range(at, len(self.lines)):
                    seen += self.lines[i].count("{")
                    if seen >= part:
                        at = i
                        break
                continue
            found = self._find_key(part, at)
            if found >= 0:
                at = found
        return at + 1

    def _find_key(self, key: str, start: int) -> int:
        pattern = regex.compile(r"(?:^|[{,\s])" + regex.escape(key) + r"\s*=")
        for i in range(start, len(self.lines)):
            if i > start and regex.match(r"\s*\[", self.lines[i]):
                break  # the next table: the key is not in this one
            if pattern.search(self.lines[i]):
                return i
        return -1


def _name(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.date)
    if kind == "list":
        return isinstance(value, list)
    raise AssertionError(kind)


def check(data: dict[str, Any], text: str, path_name: str) -> list[str]:
    """Raise RuleError at the first wrong value; return warnings for unknown keys."""
    where = Locator(text)
    warnings: list[str] = []

    def fail(path: tuple[str | int, ...], message: str) -> RuleError:
        return RuleError(f"{path_name}:{where.line(path)}: {_name(path)}: {message}")

    def walk(schema: Value | Table, value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(schema, Table):
            if not isinstance(value, dict):
                raise fail(path, f"must be a table, not {type(value).__name__} ({value!r})")
            for key, sub in schema.keys.items():
                if key not in value and getattr(sub, "required", False):
                    raise fail(path, f"'{key}' is required")
            for key, sub_value in value.items():
                if key not in schema.keys:
                    known = ", ".join(sorted(schema.keys))
                    warnings.append(
                        f"{path_name}:{where.line((*path, key))}: {_name((*path, key))}: "
                        f"unknown key, ignored (known here: {known})"
                    )
                    continue
                walk(schema.keys[key], sub_value, (*path, key))
            return
        if not _type_ok(value, schema.type):
            raise fail(path, f"must be {_TYPE_NAMES[schema.type]}, not {value!r}")
        if schema.choices and value not in schema.choices:
            options = ", ".join(
                str(c).lower() if isinstance(c, bool) else repr(c) for c in schema.choices
            )
            raise fail(path, f"must be one of {options} (got {value!r})")
        if schema.minimum is not None and value < schema.minimum:
            raise fail(path, f"must be at least {schema.minimum:g} (got {value!r})")
        if schema.type == "list" and schema.item is not None:
            for i, element in enumerate(value):
                walk(schema.item, element, (*path, i))

    walk(SCHEMA, data, ())
    return warnings
