"""What each verdict means for a recipient copy: the one owner of that decision.

Rules only say what they found and which action they ask for (as Mailman's
rules only answer "does this match"); this module, like Mailman's chains or
Rspamd's ``actions.conf``, decides what happens to each copy:

==============  ==============================================================
verdict         the copy
==============  ==============================================================
``pass``        is forwarded exactly as sent (``monitor`` findings are recorded
                in the log only)
``flag``        is forwarded with an ``X-Chaperone-Flagged`` header naming the
                rules, and logged
``quarantine``  is held for a reviewer
``reject``      is refused with ``5.7.1``: recorded, never delivered; the
                sender's server bounces it when every copy is refused, the
                gateway sends a delivery status notice otherwise
==============  ==============================================================

The relay, ``gateway check`` and ``gateway eval`` all read verdicts through
here, so "caught" means the same to all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.judge.policy import Finding
from gateway.mail import Verdict, printable

FLAG_HEADER = "X-Chaperone-Flagged"


@dataclass(frozen=True, slots=True)
class Disposition:
    """The fate of every recipient copy of one message, in envelope order."""

    forward: tuple[str, ...] = ()  # as sent
    flag: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # recipient -> the rules that flagged it
    hold: tuple[str, ...] = ()
    refuse: tuple[str, ...] = ()

    @property
    def delivered(self) -> tuple[str, ...]:
        """Copies that go to the next hop now, flagged or not."""
        return (*self.forward, *self.flag)


def caught(verdict: Verdict | str) -> bool:
    """Whether a copy with this verdict is kept from its recipient (held or refused)."""
    return Verdict(verdict).holds


def dispose(
    rcpts: Iterable[str], verdicts: Mapping[str, Verdict | str], findings: Iterable[Finding] = ()
) -> Disposition:
    """Each copy's fate from its verdict; a copy without a verdict was not scanned and passes."""
    findings = tuple(findings)
    forward: list[str] = []
    flag: dict[str, tuple[str, ...]] = {}
    hold: list[str] = []
    refuse: list[str] = []
    for r in rcpts:
        verdict = Verdict(verdicts.get(r, Verdict.PASS))
        if verdict is Verdict.REJECT:
            refuse.append(r)
        elif verdict is Verdict.QUARANTINE:
            hold.append(r)
        elif verdict is Verdict.FLAG:
            # No flagging rule: a part could not be read and [scanner] unreadable says flag.
            flag[r] = rules_for(r, findings, Verdict.FLAG) or ("unreadable-part",)
        else:
            forward.append(r)
    return Disposition(tuple(forward), flag, tuple(hold), tuple(refuse))


def rules_for(
    recipient: str, findings: Iterable[Finding], verdict: Verdict | None = None
) -> tuple[str, ...]:
    """The rules whose findings apply to this copy (only those asking for ``verdict``, if given)."""
    return tuple(
        sorted(
            {
                f.rule
                for f in findings
                if recipient in f.copies and (verdict is None or f.action.verdict is verdict)
            }
        )
    )


def flag_header(rules: Iterable[str]) -> bytes:
    """The header a flagged copy carries, prepended to the message as received."""
    names = ", ".join(printable(r) for r in rules) or "policy"
    return f"{FLAG_HEADER}: {names}\r\n".encode("ascii", "replace")


def refusal(rules: Iterable[str]) -> str:
    """The SMTP reply for a copy the policy refuses."""
    names = ", ".join(rules) or "policy"
    return f"550 5.7.1 Refused by the school's communications policy (rule {names})"
