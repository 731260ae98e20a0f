"""Rendering shared by the device and office pages: Jinja2 templates, translations, security headers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sputnik_edge.web.i18n import LANGUAGES, messages, pick_language

WEB_DIR = Path(__file__).resolve().parent
STATIC_URL = "/ui/static"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

# No inline script or style anywhere: data reaches the scripts as JSON blocks and data- attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(WEB_DIR / "static"))


def render(request: Request, template: str, setting_language: str, **context: Any) -> HTMLResponse:
    lang = pick_language(
        setting_language, request.headers.get("accept-language"), request.query_params.get("lang")
    )
    t = messages(lang)
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "languages": LANGUAGES,
            "t": t,
            # Escaped for a <script type="application/json"> block: "</" cannot end it early.
            "t_json": json.dumps(t, ensure_ascii=False).replace("</", "<\\/"),
            "static_url": STATIC_URL,
            **context,
        },
        headers=PAGE_HEADERS,
    )
