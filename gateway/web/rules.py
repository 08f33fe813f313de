"""The rules page: every rule with its hits and its precision from reviewers' decisions,
and, for admins, changing a rule: its action at once, its patterns after a trial on
the mail in the store (see ``gateway.review.tuning``)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.config import Config
from gateway.evaluation import CorpusError, corpus_trial, unpack
from gateway.judge.rules import Rule
from gateway.mail import Role, now_utc
from gateway.review import tuning
from gateway.store import RuleChange
from gateway.web.context import context, current_user, form_with_csrf, page, whole_number


def reads_rules(role: Role) -> bool:
    return role.reads_rules


def tunes_rules(role: Role) -> bool:
    return role.tunes_rules


def where(config: Config, rule: Rule) -> str:
    """The rule's file and line, relative to the installation (the configuration's parent)."""
    path, _, line = rule.source.rpartition(":")
    with contextlib.suppress(ValueError):  # a rule file outside it keeps its full path
        path = str(Path(path).relative_to(config.path.parent.parent))
    return f"{path}:{line}"


def copies_link(rule: Rule, **filters: str) -> str:
    """The queue, showing the copies behind one of a rule's figures."""
    return "/queue?" + urlencode({"status": "", "rule": rule.id, **filters})


async def rules(request: Request) -> Response:
    user = await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    now = now_utc()
    figures = await run_in_threadpool(tuning.rule_figures, config, store, now)
    today = now.astimezone(config.timezone).date()
    return page(
        request,
        "rules.html",
        {
            "figures": figures,
            "can_tune": Role(user.role).tunes_rules,
            "actions": tuning.APP_ACTIONS,
            "link": copies_link,
            "where": lambda rule: where(config, rule),
            "since_7": (today - timedelta(days=6)).isoformat(),
            "since_30": (today - timedelta(days=29)).isoformat(),
        },
    )


async def rule_page(request: Request) -> Response:
    user = await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    rule = config.rules.get(request.path_params["rule_id"])
    if rule is None:
        raise HTTPException(404, "No such rule is loaded.")
    figures = next(
        f
        for f in await run_in_threadpool(tuning.rule_figures, config, store, now_utc())
        if f.rule.id == rule.id
    )
    history = await run_in_threadpool(store.rule_changes, rule.id)
    in_force = tuning.app_changes(history).get(rule.id, {})
    file_says = tuning.definition(rule, {})
    return page(
        request,
        "rule.html",
        {
            "f": figures,
            "history": [(c, _diff(c, file_says)) for c in reversed(history)],
            "undo": tuning.undoable(history),
            "draft": tuning.definition(rule, in_force),
            "keys": tuning.LIST_KEYS,
            "base": f"/rules/{rule.id}",
            "can_tune": Role(user.role).tunes_rules,
            "actions": tuning.APP_ACTIONS,
            "link": copies_link,
            "where": where(config, rule),
        },
    )


def _diff(c: RuleChange, file_says: dict) -> list[dict]:
    """What one change did, key by key: an action from and to, or the patterns added and
    removed (None in a change is the file's own value)."""
    out = []
    for key, value in c.changes.items():
        was = c.previous.get(key)
        before = file_says.get(key) if was is None else was
        after = file_says.get(key) if value is None else value
        if isinstance(after, list):
            out.append(
                {
                    "key": key,
                    "added": [p for p in after if p not in (before or [])],
                    "removed": [p for p in before or [] if p not in after],
                }
            )
        else:
            out.append(
                {"key": key, "from": was or f"file ({before})", "to": value or f"file ({after})"}
            )
    return out


async def word_lists(request: Request) -> Response:
    await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    changes = await run_in_threadpool(lambda: tuning.app_changes(store.rule_changes()))
    rows = [
        (wl, changes.get(tuning.list_target(name), {}).get("words"))
        for name, wl in tuning.word_lists(config).items()
    ]
    return page(request, "lists.html", {"rows": rows})


async def word_list(request: Request) -> Response:
    user = await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    name = request.path_params["name"]
    wl = tuning.word_lists(config).get(name)
    if wl is None:
        raise HTTPException(404, "No such word list in the rule files.")
    target = tuning.list_target(name)
    history = await run_in_threadpool(store.rule_changes, target)
    in_force = tuning.app_changes(history).get(target, {})
    file_says = {"words": list(wl.words)}
    return page(
        request,
        "list.html",
        {
            "wl": wl,
            "words": in_force.get("words", list(wl.words)),
            "changed": bool(in_force),
            "history": [(c, _diff(c, file_says)) for c in reversed(history)],
            "undo": tuning.undoable(history),
            "draft": {"words": in_force.get("words", list(wl.words))},
            "keys": ("words",),
            "base": f"/lists/{name}",
            "can_tune": Role(user.role).tunes_rules,
        },
    )


def _target(request: Request) -> tuple[str, str]:
    """(what is changed, its page): a rule by id, or a word list by name."""
    if "name" in request.path_params:
        name = request.path_params["name"]
        return tuning.list_target(name), f"/lists/{name}"
    rule_id = request.path_params["rule_id"]
    return rule_id, f"/rules/{rule_id}"


async def change(request: Request) -> Response:
    user = await current_user(request, tunes_rules)
    config, store = context(request).config, context(request).store
    form = await form_with_csrf(request)
    (rule_id, back), what = _target(request), request.path_params["what"]
    try:
        if what == "try":
            return await try_draft(request, rule_id, back, tuning.parse_draft(form))
        if what == "try-corpus":
            return await try_on_corpus(request, rule_id, back, _draft_of(form))
        if what == "action" and not rule_id.startswith(tuning.LIST_CHANGE):
            await run_in_threadpool(
                lambda: tuning.set_action(
                    config,
                    store,
                    rule_id,
                    form.get("action", ""),
                    user=user,
                    reason=form.get("reason", ""),
                )
            )
            done = f"{rule_id}: now {form.get('action') or 'as its file says'}"
        elif what == "save":
            draft = _draft_of(form)
            await run_in_threadpool(
                lambda: tuning.change(
                    config, store, rule_id, draft, user=user, reason=form.get("reason", "")
                )
            )
            done = f"{rule_id}: the draft is saved"
        elif what == "undo":
            await run_in_threadpool(
                lambda: tuning.undo(
                    config, store, rule_id, user=user, reason=form.get("reason", "")
                )
            )
            done = f"{rule_id}: the last change is undone"
        else:
            raise HTTPException(404, "No such action.")
    except tuning.TuningError as exc:
        raise HTTPException(400, str(exc)) from None
    request.session["flash"] = done + "; running gateways use it within seconds"
    return RedirectResponse(back, 303)


def _draft_of(form: dict[str, str]) -> dict:
    """The draft a trial page carries on to saving it, or to trying it on a corpus."""
    try:
        draft = json.loads(form.get("draft", ""))
    except ValueError:
        draft = None
    if not isinstance(draft, dict):
        raise tuning.TuningError("the draft did not come back intact; try it again")
    return draft


MAX_UPLOAD = 100 * 2**20  # a zipped corpus


async def try_on_corpus(request: Request, rule_id: str, back: str, draft: dict) -> Response:
    """Score the rules in force and the draft on a labelled corpus: one named in
    ``[web] corpora``, or a zip the admin uploads (unpacked into a temporary folder,
    confined to it, removed afterwards)."""
    config, store = context(request).config, context(request).store
    form = await request.form()  # the same form, already read: the upload is in it
    named, upload = str(form.get("corpus", "")), form.get("archive")
    with tempfile.TemporaryDirectory(prefix="chaperone-corpus-") as folder:
        if named:
            index = whole_number(named)
            if index is None or index > len(config.web.corpora):
                raise HTTPException(400, "Choose one of the corpora listed.")
            manifest = config.web.corpora[index - 1]
            name = str(manifest)
        elif isinstance(upload, UploadFile) and upload.filename:
            archive = Path(folder) / "upload.zip"
            size = 0
            with archive.open("wb") as out:
                while chunk := await upload.read(2**20):
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise HTTPException(413, f"The archive is over {MAX_UPLOAD // 2**20} MB.")
                    out.write(chunk)
            try:
                manifest = await run_in_threadpool(unpack, archive, Path(folder) / "corpus")
            except CorpusError as exc:
                raise HTTPException(400, f"The corpus cannot be read: {exc}") from None
            name = upload.filename
        else:
            raise HTTPException(400, "Choose a corpus, or upload one as a zip.")
        result = await run_in_threadpool(
            lambda: corpus_trial(config, store, rule_id, draft, manifest)
        )
    return page(
        request,
        "corpus_trial.html",
        {
            "name": rule_id.removeprefix(tuning.LIST_CHANGE),
            "corpus": name,
            "trial": result,
            "draft_json": json.dumps(draft, ensure_ascii=False),
            "base": back,
        },
    )


async def try_draft(request: Request, rule_id: str, back: str, draft: dict) -> Response:
    """Scan the mail in the store with the draft and with the rules in force: the copies
    whose verdict would change, and the precision and recall of each; nothing is saved."""
    config, store = context(request).config, context(request).store
    result = await run_in_threadpool(lambda: tuning.trial(config, store, rule_id, draft))
    is_list = rule_id.startswith(tuning.LIST_CHANGE)
    return page(
        request,
        "trial.html",
        {
            "name": rule_id.removeprefix(tuning.LIST_CHANGE),
            "what": "the word list" if is_list else "rule",
            "trial": result,
            "draft": draft,
            "draft_json": json.dumps(draft, ensure_ascii=False),
            "keys": ("words",) if is_list else tuning.LIST_KEYS,
            "base": back,
            "corpora": [str(c) for c in config.web.corpora],
        },
    )
