"""The Employees pages (hr, admin, as the employees API): the list and one employee's page.

The list is rendered whole (up to ``MAX_LISTED``) and searched in the browser: a search typed
into the page never travels in a URL, so names stay out of query strings, history and logs. Every
change (add, edit, (de)activate, photos, erasure) is made by the page's script through the API.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from sputnik_edge.central.schema import employees
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.pages.access import Staff
from sputnik_edge.office.pages.context import error_page, office_state, page, texts
from sputnik_edge.office.routes import employee_queries as queries
from sputnik_edge.office.routes.employees import EMPLOYEE_ID_PATTERN

router = APIRouter(include_in_schema=False)

MAX_LISTED = 2000
PAGE_SIZE = 500  # the API's own page limit
STATUSES = {"all": None, "active": True, "inactive": False}


def all_employees(central: CentralStore, *, active: bool | None) -> queries.EmployeePage:
    """Up to MAX_LISTED employees in id order, with the true total."""
    found: list[queries.Employee] = []
    total = 0
    while len(found) < MAX_LISTED:
        batch = queries.search(central, q=None, active=active, limit=PAGE_SIZE, offset=len(found))
        found.extend(batch.employees)
        total = batch.total
        if len(batch.employees) < PAGE_SIZE:
            break
    return queries.EmployeePage(found[:MAX_LISTED], total)


def departments(central: CentralStore) -> list[str]:
    """Departments in use, for the filters (a department is not personal data)."""
    stmt = (
        select(employees.c.department)
        .where(employees.c.department.is_not(None))
        .distinct()
        .order_by(employees.c.department)
    )
    rows = central._transaction("listing departments", lambda conn: conn.execute(stmt).all())
    return [r.department for r in rows]


@router.get("/employees", response_class=HTMLResponse)
def employee_list(request: Request, user: Staff, status: str = "all", done: str = "") -> HTMLResponse:
    # A page forgives odd parameters (an old bookmark) instead of answering with a JSON 422.
    status = status if status in STATUSES else "all"
    state = office_state(request)
    listed = all_employees(state.central, active=STATUSES[status])
    return page(
        request,
        "office/employees.html",
        user,
        current="employees",
        employees=listed.employees,
        total=listed.total,
        truncated=listed.total > len(listed.employees),
        max_listed=MAX_LISTED,
        status_filter=status,
        departments=departments(state.central),
        notice=texts(request)["erased_notice"] if done == "erased" else "",
    )


@router.get("/employees/{employee_id}", response_class=HTMLResponse)
def employee_page(request: Request, user: Staff, employee_id: str) -> HTMLResponse:
    state = office_state(request)
    valid = re.fullmatch(EMPLOYEE_ID_PATTERN, employee_id) is not None
    found = queries.get(state.central, employee_id) if valid else None
    if found is None:
        return error_page(request, 404, "not_found_title", texts(request)["not_found_employee"], user)
    return page(
        request,
        "office/employee.html",
        user,
        current="employees",
        e=found,
        departments=departments(state.central),
    )
