"""The technician's status page at ``/``: cameras with a live preview, recent events, health.

The page itself holds no data (it is the same for everyone); everything it shows comes from the
token-protected API, so a device with ``http.api_token`` asks for the token in the page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from sputnik_edge.api.context import DeviceContext, device_context
from sputnik_edge.web.pages import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, ctx: Annotated[DeviceContext, Depends(device_context)]) -> HTMLResponse:
    s = ctx.settings
    return render(request, "device/status.html", s.http.ui_language, device_id=s.device.id)
