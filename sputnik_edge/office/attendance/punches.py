"""A timesheet's punches, reduced inside PostgreSQL by the stretches of ``reduce``.

One scan of the event span: each check-in/check-out of an employee in scope is bucketed into its
schedule's stretch with ``width_bucket``. Punches in a counted stretch collapse to one per
(employee, kind, stretch): the earliest check-in or the latest check-out, which is all the core
uses of them. Punches on a change point, outside a shift window, or voided come back one by one.
A month of a million events leaves the database as tens of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Connection,
    DateTime,
    Integer,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    type_coerce,
    values,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from sputnik_edge.central.schema import attendance_events
from sputnik_edge.office.attendance.reduce import CellStats, StretchPlan
from sputnik_edge.office.timesheet import PUNCH_KINDS, TimeEvent

Stats = dict[tuple[str, date], CellStats]


def _cell(stats: Stats, employee_id: str, day: date) -> CellStats:
    found = stats.get((employee_id, day))
    if found is None:
        found = stats[(employee_id, day)] = CellStats()
    return found


def fetch_punches(
    conn: Connection,
    plan: StretchPlan,
    since: datetime,
    until: datetime,
    voided: Collection[str],
    stats: Stats | None = None,
) -> list[TimeEvent]:
    """The punches the core needs over [since, until) for the employees of ``plan``; ``stats``,
    when given, receives the counted punches per (employee, shift day) for the daily view."""
    if not plan.sid_of:
        return []
    e = attendance_events
    stretch = values(
        column("sid", Integer),
        column("pts", ARRAY(DateTime(timezone=True))),
        column("cin", ARRAY(Boolean)),
        column("cout", ARRAY(Boolean)),
        name="stretch",
    ).data(
        [
            (sid, s.points, s.counted("check_in"), s.counted("check_out"))
            for sid, s in enumerate(plan.stretches)
        ]
    )
    people = sorted(plan.sid_of.items())
    ids = (
        func.unnest(
            literal([p for p, _ in people], ARRAY(Text)), literal([sid for _, sid in people], ARRAY(Integer))
        )
        .table_valued("employee_id", "sid", name="ids")
        .render_derived()
    )

    def of_stretch(col: ColumnElement[Any]) -> ScalarSelect[Any]:
        return select(col).where(stretch.c.sid == ids.c.sid).scalar_subquery()

    # Each employee with their stretches, as rows the planner can count: unnest of constant arrays
    # is sized exactly (joining the VALUES on sid instead was estimated at 15 of 1,000 rows and
    # planned as 1,000 index scans). MATERIALIZED evaluates the lookups once per employee, not
    # once per event.
    staff = (
        select(
            ids.c.employee_id,
            of_stretch(stretch.c.pts).label("pts"),
            of_stretch(stretch.c.cin).label("cin"),
            of_stretch(stretch.c.cout).label("cout"),
        )
        .cte("staff")
        .prefix_with("MATERIALIZED")
    )
    voided_ids = sorted(voided)
    pts = type_coerce(staff.c.pts, ARRAY(DateTime(timezone=True)))
    # width_bucket counts the points at or before the instant: the stretch index of Stretches
    # for an instant between points; for a point itself, its 1-based position, so pts[j] equals it.
    j = func.width_bucket(e.c.captured_at, pts)
    counted = case(
        (e.c.kind == "check_in", type_coerce(staff.c.cin, ARRAY(Boolean))[j]),
        else_=type_coerce(staff.c.cout, ARRAY(Boolean))[j],
    )
    keep = or_(
        j == 0,
        pts[j] == e.c.captured_at,
        not_(func.coalesce(counted, False)),
        e.c.event_id.in_(voided_ids),
    )
    bucketed = (
        select(
            cast(e.c.event_id, Text).label("event_id"),
            e.c.employee_id,
            e.c.kind,
            e.c.captured_at,
            j.label("j"),
            keep.label("keep"),
        )
        .select_from(e.join(staff, staff.c.employee_id == e.c.employee_id))
        .where(e.c.captured_at >= since, e.c.captured_at < until, e.c.kind.in_(sorted(PUNCH_KINDS)))
        .subquery("bucketed")
    )
    # A kept punch is a group of its own (grouped by its id); the rest group by stretch.
    kept_id = case((bucketed.c.keep, bucketed.c.event_id))
    groups = (
        select(
            bucketed.c.employee_id,
            bucketed.c.kind,
            bucketed.c.j,
            kept_id.label("kept_id"),
            func.count().label("n"),
            func.min(bucketed.c.captured_at).label("first_at"),
            func.max(bucketed.c.captured_at).label("last_at"),
        )
        .group_by(bucketed.c.employee_id, bucketed.c.kind, bucketed.c.j, kept_id)
        .subquery("groups")
    )
    # The real event behind a group's earliest check-in / latest check-out, so the core gets
    # genuine events; never a voided one that happens to share the instant.
    rep = attendance_events.alias("rep")
    rep_at = case((groups.c.kind == "check_in", groups.c.first_at), else_=groups.c.last_at)
    representative = (
        select(cast(rep.c.event_id, Text).label("event_id"))
        .where(
            groups.c.kept_id.is_(None),
            rep.c.employee_id == groups.c.employee_id,
            rep.c.captured_at == rep_at,
            rep.c.kind == groups.c.kind,
            rep.c.event_id.not_in(voided_ids),
        )
        .limit(1)
        .lateral("representative")
    )
    stmt = select(
        groups.c.employee_id,
        groups.c.kind,
        groups.c.j,
        groups.c.kept_id,
        groups.c.n,
        rep_at.label("at"),
        groups.c.last_at,
        func.coalesce(groups.c.kept_id, representative.c.event_id).label("event_id"),
    ).select_from(groups.outerjoin(representative, true()))

    # One big aggregate per report: enough memory to keep it off disk (the default 4 MB spilled
    # at a month of 1,000 people), and no JIT, whose compile took longer than the query here.
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    conn.execute(text("SET LOCAL jit = off"))
    events: list[TimeEvent] = []
    voided_set = set(voided_ids)
    for r in conn.execute(stmt):
        events.append(TimeEvent(r.event_id, r.employee_id, r.kind, r.at))
        if stats is None or r.event_id in voided_set:
            continue
        if r.kept_id is None:
            answer = plan.stretches[plan.sid_of[r.employee_id]].answers[r.kind][r.j]
            if answer is not None:  # always set for a reduced group; None would be a bug upstream
                _cell(stats, r.employee_id, answer.day).note(r.last_at, r.kind, r.n)
            continue
        found = plan.answer(r.employee_id, r.at, r.kind) or plan.assign(r.employee_id, r.at, r.kind)
        if found.counted:
            _cell(stats, r.employee_id, found.day).note(r.at, r.kind)
    return events
