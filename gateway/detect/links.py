"""Social profiles, channel invites and handles.

Links of known platforms are recognised anywhere (running text, href
targets, defanged as ``wa[.]me``). A bare ``@handle`` or ``name.handle``
counts only beside a platform word ("my insta @x", "jordan.acts on
Instagram"), so e-mail addresses, file names and ordinary words do not.
"""

from __future__ import annotations

import re

import regex

from gateway.detect import Candidate, DetailType, Detector, register
from gateway.detect.platforms import registry
from gateway.mail import DetailKind
from gateway.read.message import Segment
from gateway.read.words import may_hold_any

_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\})"
# Every platform's link domains, from the registry (platforms.toml).
_HOSTS = [h for p in registry() for h in p.hosts]
_HOST_PLATFORM = {h: p.name for p in registry() for h in p.hosts}
_HOST_RE = "|".join(h.replace(".", _DOT) for h in sorted(_HOSTS, key=len, reverse=True))
_BLOG_RE = r"[a-z0-9-]{2,}" + _DOT + r"(?:wordpress|blogspot|substack|tumblr)" + _DOT + r"com"
_LINK = regex.compile(
    rf"(?<![\w.@-])(?:https?://)?(?:www{_DOT}|m{_DOT}|mobile{_DOT})?(?P<host>{_HOST_RE}|{_BLOG_RE})(?P<path>/[^\s<>\"'\])]*[^\s<>\"'\]).,;:!?])?",
    regex.IGNORECASE,
)
_CONTENT_PATHS = {
    "p",
    "reel",
    "reels",
    "explore",
    "watch",
    "shorts",
    "embed",
    "playlist",
    "hashtag",
    "search",
    "i",
    "intent",
    "share",
    "sharer",
    "home",
    "login",
    "accounts",
    "privacy",
    "help",
    "about",
    "legal",
    "policies",
    "events",
    "tv",
    "results",
    "feed",
    "discover",
    "stream",
    "upload",
    "charts",
    "pages",
    "settings",
}

# LinkedIn's pages of organisations (a person's profile is /in/NAME).
_ORGANISATION_PAGES = {"company", "school", "showcase", "jobs"}

# The words that name a platform beside a bare handle ("my insta jo.b"), from the
# registry's platforms whose handles are bare words.
_PLATFORM_WORDS = {a: p.name for p in registry() if p.handles for a in p.aliases}
# The same, as matched text is looked up: lower case, spaces dropped ("Tik Tok").
_PLATFORM_OF = {w.replace(" ", ""): name for w, name in _PLATFORM_WORDS.items()}
# "X" only as a capitalised word, so "x" in prose or maths is not a platform.
_PLATFORM = regex.compile(
    r"(?i:\b(?P<w>"
    + "|".join(
        regex.escape(w).replace(r"\ ", r"\s?")
        for w in sorted(_PLATFORM_WORDS, key=len, reverse=True)
        if w != "x"
    )
    + r")\b)|\b(?P<x>X)\b"
)
# Every word _PLATFORM can match, casefolded ("X" as "x"; "tik tok" as "tik").
_PLATFORM_VOCABULARY = frozenset(w.split()[0] for w in _PLATFORM_WORDS)
# Every link host ends in a separator dot and one of a few top-level labels
# (".me", ".com", "[.]gg"...), and every bare handle has a "." or "_" before a
# letter or digit: most prose (times like 9.30am, prices) has neither, and
# these cheap searches spare it the full patterns above.
_TOP_LABELS = sorted({h.rsplit(".", 1)[1] for h in _HOSTS} | {"com"}, key=len, reverse=True)
_LINK_POSSIBLE = re.compile(
    r"(?:\.|\[\.\]|\(\.\)|\{\.\})(?:" + "|".join(_TOP_LABELS) + ")", re.IGNORECASE
)
# The words that make an @handle a profile when no platform is named ("request my
# other account, @jo_b"): what one does with, and calls, a social account.
_SOCIAL_WORDS = frozenset(
    [
        "follow",
        "follows",
        "following",
        "follower",
        "followers",
        "account",
        "accounts",
        "profile",
        "page",
        "request",
        "requests",
        "dm",
        "dms",
        "handle",
        "username",
        "add",
        "friend",
        "friends",
        "story",
        "stories",
        "post",
        "posts",
    ]
)
_SOCIAL = regex.compile(r"\b(?:" + "|".join(sorted(_SOCIAL_WORDS)) + r")\b", regex.IGNORECASE)
_HANDLE_SEPARATOR = re.compile(r"[._][a-z0-9_]")
_HANDLE_CHAR = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_NOT_BEFORE_HANDLE = regex.compile(r"[\w.@/-]")


def _bare_handles(text: str):
    """The matches of _BARE_HANDLE.finditer(text), tried only where one can start.

    A match starts where its lookbehind allows and runs [a-z0-9_]+ up to a
    "." or "_" separator, so walking back from each separator to the start of
    its run gives every possible start; _BARE_HANDLE.match there, left to right
    and never before the previous match's end, is exactly what finditer finds.
    """
    last_end = -1
    tried = set()
    for sep in _HANDLE_SEPARATOR.finditer(text):
        p = sep.start()
        while p > 0 and text[p - 1] in _HANDLE_CHAR:
            p -= 1
        if p in tried or p < last_end or (p > 0 and _NOT_BEFORE_HANDLE.match(text, p - 1)):
            continue
        tried.add(p)
        m = _BARE_HANDLE.match(text, p)
        if m is not None:
            last_end = m.end()
            yield m


_AT_HANDLE = regex.compile(r"(?<![\w.@])@(?P<h>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_BARE_HANDLE = regex.compile(r"(?<![\w.@/-])(?P<h>[a-z0-9_]+(?:[._][a-z0-9_]+)+)(?![\w@/-]|\.\w)")
# What introduces a handle as the sender's, just before it.
_INTRODUCED_TOKEN = regex.compile(
    r"\b(?:add me|snap me|follow me|dm me|message me|find me|skype me|"
    r"my (?:username|user name|handle|snap|snapchat|insta|ig|tiktok|discord|gamertag|gamer tag|skype) is|"
    r"username|user name|handle)\s*[-:,–]?\s*@?(?P<h>[a-z0-9_.]{3,30})(?![\w@.]|\.\w)",
    regex.IGNORECASE,
)
# A token like a handle, not a word: a letter and a digit or separator in it.
_HANDLE_LIKE = regex.compile(r"(?=.*[a-z])(?=.*[0-9_.])", regex.IGNORECASE)
# A handle the sender introduces as theirs: its platform may be a sentence away.
_INTRODUCED = regex.compile(
    r"(?:i'm|i am|i’m|search for me|find me|add me|follow me|snap me|skype me|dm me|message me"
    r"|(?:my )?(?:username|user name|handle|gamertag|gamer tag)(?: is)?)[\s:,–-]{1,3}$",
    regex.IGNORECASE,
)
_PATH_SPLIT = regex.compile(r"[/?#&]")
# Digits and dots, a time or a measure ("6.30pm", "2.5kg"), or initials ("j.b", "e.g"): no handle.
_NOT_A_HANDLE = regex.compile(r"[\d._]+|\d+(?:\.\d+)+[a-z]{0,3}|[a-z]\.[a-z](?:\.[a-z])*")
_NOT_HANDLE_SUFFIX = regex.compile(
    r"\.(?:com|co|uk|org|net|me|io|example|pdf|docx?|xlsx?|pptx?|png|jpe?g|gif|txt|csv|ics|vcf|zip|html?|ac|sch|gov|edu)$"
)


def _canonical_link(host: str, path: str) -> tuple[str, str, str] | None:
    """(kind, platform, handle-or-code) for a platform link, or None if it is content."""
    host = regex.sub(_DOT, ".", host.lower())
    parts = [p for p in _PATH_SPLIT.split(path or "") if p]
    first = parts[0] if parts else ""
    for blog in ("wordpress.com", "blogspot.com", "substack.com", "tumblr.com"):
        if host.endswith("." + blog):
            return ("profile", "blog", host)
    if host in {"wa.me", "api.whatsapp.com", "web.whatsapp.com"}:
        return ("channel", "whatsapp", first or host)
    if host == "chat.whatsapp.com":
        return ("channel", "whatsapp-group", first)
    if host == "whatsapp.com":
        return ("channel", "whatsapp", "/".join(parts[:2]))
    if host in {"t.me", "telegram.me"}:
        if first.startswith("+") or first == "joinchat":
            return ("channel", "telegram-group", "/".join(parts[:2]))
        return ("profile+channel", "telegram", first) if first else None
    if host in {"signal.me", "signal.group"}:
        return ("channel", "signal", path or host)
    if host in {"discord.gg", "discord.com"}:
        code = parts[1] if first == "invite" and len(parts) > 1 else first
        return ("channel", "discord", code) if code else None
    if host in {"m.me", "messenger.com", "ig.me", "kik.me"}:
        handle = parts[-1] if parts else ""
        return (
            (
                "profile+channel",
                {"ig.me": "instagram", "kik.me": "kik"}.get(host, "facebook"),
                handle,
            )
            if handle
            else None
        )
    if host == "strava.com":
        # An athlete's page (/athletes/ID) is a profile; clubs, segments and routes are content.
        if first == "athletes" and len(parts) > 1:
            return ("profile", "strava", parts[1])
        return None
    if host == "snapchat.com":
        if first in {"add", "u"} and len(parts) > 1:
            return ("profile+channel", "snapchat", parts[1])
        return None
    # Any other host of the registry: its platform, the first path part the handle.
    platform = _HOST_PLATFORM.get(host)
    if platform is None or not first or first.lower() in _CONTENT_PATHS:
        return None
    if platform == "linkedin" and first.lower() in _ORGANISATION_PAGES:
        return None  # a company's or a school's page: an organisation's, not a person's
    if platform == "reddit" and first.lower() in {"user", "u"}:
        first = parts[1] if len(parts) > 1 else ""
    elif platform == "reddit":
        return None  # a subreddit or a post: content
    if platform == "facebook" and first.lower() in {"groups", "group"}:
        return ("channel", "facebook-group", parts[1] if len(parts) > 1 else "")
    if platform == "youtube" and first.lower() in {"c", "channel", "user"}:
        first = parts[1] if len(parts) > 1 else ""
    if platform in {"linkedin", "bluesky"} and first.lower() in {"in", "profile"}:
        first = parts[1] if len(parts) > 1 else ""
    handle = first.lstrip("@")
    if platform == "facebook" and handle.lower() == "profile.php":
        handle = path.split("id=")[-1][:32]
    return ("profile", platform, handle) if handle else None


def _nearest_platform(text: str, start: int, end: int, window: int) -> str | None:
    best = None
    best_distance = window + 1
    lo, hi = max(0, start - window), min(len(text), end + window)
    for m in _PLATFORM.finditer(text, lo, hi):
        distance = start - m.end() if m.end() <= start else m.start() - end
        if 0 <= distance < best_distance:
            word = (m.group("w") or m.group("x") or "").lower().replace(" ", "")
            best, best_distance = _PLATFORM_OF.get(word), distance
    return best


def _profile(seg: Segment, platform: str, handle: str, start: int, end: int) -> Candidate:
    return Candidate(
        "profile", f"{platform}:{handle.lower()}", seg, start, end, True, f"{platform} handle"
    )


# Whitespace, as _LINK's own classes see it: no link match holds any.
_SPACE = regex.compile(r"\s")
_SPACE_BEFORE = regex.compile(r"\s", regex.REVERSE)


def _links(text: str):
    """The matches of _LINK.finditer(text), tried only in the words that can hold one.

    A link is never broken by whitespace and its host ends in a dot and a top
    label (_LINK_POSSIBLE), so every match lies inside one whitespace-free run
    holding such a hit. Searching those runs alone (the look-behind still sees
    the space before each) finds exactly what the whole text would, without
    the pattern's long alternation tried at every position of a newsletter.
    """
    done = 0
    for hit in _LINK_POSSIBLE.finditer(text):
        if hit.start() < done:
            continue
        before = _SPACE_BEFORE.search(text, 0, hit.start())
        after = _SPACE.search(text, hit.end())
        start = before.end() if before else 0
        done = after.start() if after else len(text)
        yield from _LINK.finditer(text, start, done)


def _subject_platform(subject: str) -> str | None:
    m = _PLATFORM.search(subject)
    return (
        None
        if m is None
        else _PLATFORM_OF.get((m.group("w") or m.group("x") or "").lower().replace(" ", ""))
    )


def find_links(seg: Segment, subject: str = "") -> list[Candidate]:
    text = seg.text.text
    found: list[Candidate] = []
    for m in _links(text):
        judged = _canonical_link(m.group("host"), m.group("path") or "")
        if judged is None:
            continue
        kind, platform, handle = judged
        if "profile" in kind:
            found.append(
                Candidate(
                    "profile",
                    f"{platform}:{handle.lower()}",
                    seg,
                    m.start(),
                    m.end(),
                    True,
                    f"{platform} link",
                )
            )
        if "channel" in kind:
            found.append(
                Candidate(
                    "channel-link",
                    f"{platform}:{handle}",
                    seg,
                    m.start(),
                    m.end(),
                    True,
                    f"{platform} link",
                )
            )
    if seg.is_link:
        return found
    # Handles count only beside a platform word: in this text, or in the
    # subject of a short one.
    subject_platform = bool(subject) and len(text) < 600 and _PLATFORM.search(subject) is not None
    social = "@" in text and may_hold_any(seg.words, _SOCIAL_WORDS)
    if not (subject_platform or social) and not may_hold_any(seg.words, _PLATFORM_VOCABULARY):
        return found
    in_subject = _subject_platform(subject) if subject_platform else None
    taken = [(c.start, c.end) for c in found]

    def free(a: int, b: int) -> bool:
        return not any(s < b and a < e for s, e in taken)

    for m in _AT_HANDLE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        near = _nearest_platform(text, m.start(), m.end(), 60) or in_subject
        if near is None and social and _SOCIAL.search(text, max(0, m.start() - 60), m.end() + 60):
            near = "social"  # a profile on a platform it does not name
        if near:
            found.append(_profile(seg, near, m.group("h"), m.start(), m.end()))
            taken.append((m.start(), m.end()))
    for m in _bare_handles(text):
        handle = m.group("h")
        if (
            not free(m.start(), m.end())
            or _NOT_HANDLE_SUFFIX.search(handle)
            or _NOT_A_HANDLE.fullmatch(handle)
            or len(handle) < 4
        ):
            continue
        introduced = _INTRODUCED.search(text, max(0, m.start() - 20), m.start())
        near = _nearest_platform(text, m.start(), m.end(), 120 if introduced else 30)
        near = near or in_subject
        if near:
            found.append(_profile(seg, near, handle, m.start(), m.end()))
            taken.append((m.start(), m.end()))
    # A handle with no separator ("priceym8") counts only as the sender introduces
    # it ("Snap me - priceym8", "my username is jo99"), beside a platform.
    for m in _INTRODUCED_TOKEN.finditer(text):
        handle = m.group("h")
        if not free(m.start("h"), m.end("h")) or not _HANDLE_LIKE.search(handle):
            continue
        near = _nearest_platform(text, m.start("h"), m.end("h"), 120) or in_subject
        if near:
            found.append(_profile(seg, near, handle, m.start("h"), m.end("h")))
    return found


def canonical_account(written: str, region: str = "") -> str | None:
    """An approved account as the register keeps it: "platform:handle", lower case, no "@"."""
    platform, sep, handle = written.strip().lower().rpartition(":")
    handle = handle.strip().lstrip("@")
    if not sep or not platform.strip() or not handle:
        return None
    return f"{platform.strip()}:{handle}"


def same_account(approved: str, found: str) -> bool:
    # Official accounts usually share one handle across platforms; a handle
    # whose platform was guessed from a nearby word still matches.
    return approved == found or approved.split(":", 1)[-1] == found.split(":", 1)[-1]


register(
    lambda segment, context: find_links(segment, context.subject),
    Detector("profile", approved_as=DetailKind.ACCOUNT),
    # An invite link is a way in, not a person's detail: it counts whoever runs it.
    Detector("channel-link", approved_as=DetailKind.ACCOUNT, has_owner=False),
    details=(DetailType(DetailKind.ACCOUNT, canonical=canonical_account, same=same_account),),
)
