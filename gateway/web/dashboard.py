"""The dashboard: holds per week by category and outcome, per-rule precision over time,
the oldest waiting copies and time to decision, drawn on the server (``charts``)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.mail import now_utc
from gateway.review.dashboard import dashboard as figures
from gateway.web import charts
from gateway.web.context import context, current_user, oversees, page


async def dashboard(request: Request) -> Response:
    user = await current_user(request)
    if not oversees(user):
        raise HTTPException(403, "The dashboard is for admins, auditors and safeguarding leads.")
    config, store = context(request).config, context(request).store
    now = now_utc()
    d = await run_in_threadpool(figures, config, store, now)
    weeks = [w[5:] for w in d.weeks]  # "11-30": the Monday of each week
    return page(
        request,
        "dashboard.html",
        {
            "d": d,
            "weeks": weeks,
            "now": now,
            "charts": {
                "category": charts.stacked_bars(
                    "Copies held or refused per week, by category",
                    weeks,
                    {c.replace("_", " "): v for c, v in d.by_category.items()},
                ),
                "outcome": charts.stacked_bars(
                    "Copies held or refused per week, by what reviewers decided",
                    weeks,
                    d.by_outcome,
                ),
                "precision": charts.lines(
                    "Precision from decisions, by month held (the busiest rules)",
                    d.months,
                    d.precision,
                ),
                "hours": charts.stacked_bars(
                    "Median hours from hold to decision, per week decided",
                    weeks,
                    {"median": d.decision_hours["median"]},
                ),
            },
        },
    )
