"""The platform registry (``platforms.toml``): one home for every platform's names,
link domains and what one does there. The link and handle detector reads its
hosts and handle words; the rules see its names as ``{platform}``, less the
platforms the school approves."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_FILE = Path(__file__).with_name("platforms.toml")


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    aliases: tuple[str, ...]
    hosts: tuple[str, ...]
    kind: str
    handles: bool  # a bare handle beside one of its aliases is a profile
    acts: tuple[str, ...]


@functools.cache
def registry() -> tuple[Platform, ...]:
    data = tomllib.loads(_FILE.read_text(encoding="utf-8"))
    return tuple(
        Platform(
            p["name"],
            tuple(a.lower() for a in p.get("aliases", [])),
            tuple(h.lower() for h in p.get("hosts", [])),
            p.get("kind", "social"),
            bool(p.get("handles", False)),
            tuple(p.get("acts", [])),
        )
        for p in data["platform"]
    )


def approved(platform: Platform, approved_names: Iterable[str]) -> bool:
    names = {n.strip().lower() for n in approved_names}
    return platform.name in names or any(a in names for a in platform.aliases)


def rule_words(approved_names: Iterable[str]) -> list[str]:
    """Every alias of every platform the school has not approved: the rules' {platform}.
    One-letter names ("x") are left out: as a word they are mostly not the platform."""
    names = list(approved_names)
    return sorted(
        {a for p in registry() if not approved(p, names) for a in p.aliases if len(a) > 1}
    )


# How a platform named with an ordinary word is told from the word: "on Teams",
# "a Teams call" are the platform; "the other teams", "fill in the forms" are not.
_BEFORE = ("on", "in", "into", "onto", "via", "through", "over", "using", "use", "to")
_AFTER = (
    "chat", "chats", "call", "calls", "meeting", "meetings", "channel", "channels",
    "message", "messages", "group", "groups", "post", "posts", "assignment",
    "assignments", "page", "app", "account", "link", "quiz", "team", "class",
)  # fmt: skip


def mentions(approved_names: Iterable[str]) -> list[str]:
    """How the rules recognise a mention of an approved platform: its name, or,
    for a name that is also an ordinary word (one word in title case: "Teams",
    "Classroom", "Forms"), the name in a platform's place. A capitalised word
    cannot be told from the sentence's first word or the user's habits, so the
    context decides, not the case."""
    words: set[str] = set()
    for name in approved_names:
        name = name.strip()
        if name.isalpha() and name[:1].isupper() and name[1:].islower():
            low = name.lower()
            words.update(f"{b} {low}" for b in _BEFORE)
            words.update(f"{low} {a}" for a in _AFTER)
            words.update((f"school {low}", f"school's {low}"))
        elif name:
            words.add(name.lower())
    return sorted(words)
