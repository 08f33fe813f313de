"""Rules and configuration reloaded without downtime, and never lost to a bad file.

A reload happens on SIGHUP, when a file the configuration was read from
changes, or when the store changes what the files say: an approved exception
is added, edited or ended (``gateway.review.register``), or an admin changes a
rule in the web app (``gateway.review.tuning``). Any error, of any kind, keeps the last good configuration in force and is
logged at error level with ``file:line`` when there is one; the watcher
goes on watching.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import Config, load_config, with_exceptions
from gateway.judge.rules import RuleError, RulesUncovered
from gateway.review.tuning import app_changes
from gateway.store import Store, StoreError

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("chaperone")


class RuleSetShrank(Exception):
    """A reload would lose rules nobody switched off or retired (a truncated or emptied file)."""


def source_mtimes(config: Config) -> dict[Path, int]:
    out = {}
    for path in config.sources:
        try:
            out[path] = path.stat().st_mtime_ns
        except OSError:
            out[path] = -1
    return out


def with_store(path: Path, store: Store, loaded: Config | None = None) -> Config:
    """The configuration at ``path`` plus what is kept in the store: rule changes made
    in the app (read with the files, checked as the loader checks a file) and approved
    exceptions. ``loaded``: the files' configuration already read, used as it is when
    the app changed nothing, so nothing is read twice."""
    changes = app_changes(store.rule_changes())
    config = loaded
    if changes:
        try:
            config = load_config(path, rule_changes=changes)
        except RuleError as exc:
            config = loaded or load_config(path)  # a broken file itself raises here
            # The files moved on under a change made in the app (a list it names is
            # gone, say): the files alone are the stricter choice, and mail flows.
            log.error(
                "the rule changes made in the app no longer fit the rule files; "
                "scanning with the files alone until they are fixed or undone",
                extra={"json": {"error": str(exc)}},
            )
    if config is None:
        config = load_config(path)
    return with_exceptions(config, store.exceptions())


class Reloader:
    def __init__(self, gateway: Gateway, version: tuple[int, int]) -> None:
        self.gateway = gateway
        self._store_version = version
        self._mtimes = source_mtimes(gateway.config)

    async def reload(self, why: str) -> bool:
        """Load rules and configuration again; on any error keep the last good set."""
        g = self.gateway
        try:
            # Remembered even if the reload fails, so a broken file is not
            # reported again every second; the next good reload reads them all.
            self._store_version = await g._db(g.store.versions)
            config = await asyncio.to_thread(with_store, g.config.path, g.store)
            lost = config.rules.lost_from(g.config.rules)
            if lost:
                raise RuleSetShrank(
                    f"the new rules would drop {len(lost)} rule(s) ({', '.join(lost[:10])}); "
                    'keep each with action = "off", or list it in retired = [...], to drop it on purpose'
                )
            # Listener, next hop and store were fixed at start (and may come from the command line).
            config = dataclasses.replace(config, relay=g.settings)
            g.use(config)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the last good set stays in force
            g.metrics.reloads.labels(
                "refused" if isinstance(exc, RuleSetShrank | RulesUncovered) else "failed"
            ).inc()
            detail = (
                str(exc)
                if isinstance(exc, StoreError | RuleSetShrank | RuleError)
                else f"{type(exc).__name__}: {exc}"
            )
            log.error(
                "reload failed; keeping the last good configuration and rules",
                extra={"json": {"error": detail, "trigger": why}},
            )
            return False
        self._mtimes = source_mtimes(config)
        g.metrics.reloads.labels("ok").inc()
        for warning in config.warnings:
            log.warning("configuration", extra={"json": {"warning": warning}})
        log.info(
            "reloaded",
            extra={
                "json": {
                    "trigger": why,
                    "rules": len(config.rules.rules),
                    "files": len(config.sources),
                }
            },
        )
        return True

    async def watch(self, interval: float = 1.0) -> None:
        g = self.gateway
        while True:
            await asyncio.sleep(interval)
            current = source_mtimes(g.config)
            # A broken file is remembered by its mtime so it is reported once.
            if current != self._mtimes:
                changed = [str(p) for p in current if current[p] != self._mtimes.get(p)]
                self._mtimes = current
                await self.reload("file changed: " + ", ".join(changed))
                continue
            try:
                version = await g._db(g.store.versions)
            except StoreError:
                continue
            if version != self._store_version:
                what = (
                    "the approved exceptions changed"
                    if version[0] != self._store_version[0]
                    else "an admin changed a rule"
                )
                await self.reload(what)
