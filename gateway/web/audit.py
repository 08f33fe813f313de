"""The audit log: every view, download and decision, filterable, and as CSV."""

from __future__ import annotations

import csv
import io

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.store import AuditEntry
from gateway.web.context import context, current_user, page, reads_audit, whole_number


async def audit_entries(request: Request) -> list[AuditEntry]:
    await current_user(request, reads_audit)
    store = context(request).store
    p = request.query_params
    copy = p.get("copy", "").strip()
    copy_id = whole_number(copy) if copy else None
    if copy and copy_id is None:
        raise HTTPException(400, "The copy is a copy id: a number from the queue.")
    return await run_in_threadpool(
        lambda: store.audit_log(
            copy_id,
            5000,
            actor=p.get("actor", "").strip() or None,
            action=p.get("action", "").strip() or None,
            newest_first=True,
        )
    )


async def audit(request: Request) -> Response:
    entries = await audit_entries(request)
    p = request.query_params
    return page(
        request,
        "audit.html",
        {
            "entries": entries,
            "actor": p.get("actor", ""),
            "action": p.get("action", ""),
            "copy": p.get("copy", ""),
        },
    )


async def audit_csv(request: Request) -> Response:
    entries = await audit_entries(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "actor", "action", "message", "copy", "detail"])
    for e in entries:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it.
        cells = [
            e.at.isoformat(),
            e.actor,
            e.action,
            e.message_id or "",
            e.copy_id or "",
            str(e.detail),
        ]
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in cells])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="chaperone-audit.csv"'},
    )
