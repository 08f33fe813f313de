"""Envelope addresses the edge accepts: full, plain, and no way to relay elsewhere."""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

from gateway.mail import in_domains


@functools.lru_cache(
    maxsize=65536
)  # the same few thousand addresses all day; validation costs 0.2 ms
def address_problem(address: str, smtputf8: bool) -> str | None:
    """Why an envelope address is refused, as an SMTP reply; None if it is fine."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in address):
        return "553 5.1.3 Control characters are not allowed in addresses"
    if not address.isascii() and not smtputf8:
        return "553 5.6.7 Non-ASCII address without the SMTPUTF8 parameter"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "553 5.1.3 A full address (user@domain) is required"
    if '"' in local:
        return "553 5.1.3 Quoted local parts are not accepted"
    if "%" in local or "!" in local:
        return "553 5.7.1 Relaying through %- or !-addresses is not allowed"
    if domain.startswith("[") or _numeric_host(domain):
        return "553 5.7.1 Address literals are not accepted"
    try:
        validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=smtputf8,
            allow_quoted_local=False,
            allow_domain_literal=False,
            globally_deliverable=False,
        )
    except EmailNotValidError:
        return "553 5.1.3 Bad address syntax"
    return None


def _numeric_host(domain: str) -> bool:
    """An IP address in disguise: every label a number (127.0.0.2, 2130706434) or a hex
    one (0x7f000001). Resolvers and some mail servers turn these into addresses, and
    no top-level domain is numeric, so none of them names a real mail domain."""
    labels = domain.rstrip(".").lower().split(".")
    return all(
        label.isdigit() or (label.startswith("0x") and _is_hex(label[2:])) for label in labels
    )


def _is_hex(text: str) -> bool:
    return bool(text) and all(ch in "0123456789abcdef" for ch in text)


def sender_allowed(address: str, domains: tuple[str, ...]) -> bool:
    """An envelope sender at one of the school's domains (or any, when none are set)."""
    return not domains or bool(in_domains(address, domains))
