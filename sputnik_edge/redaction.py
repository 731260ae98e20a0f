"""Removal of secrets from strings before they reach a log line or an API answer."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<cred>[^/@\s]+)@")
_KV_SECRET = re.compile(
    r"(?P<key>password|passwd|pwd|token|api_token|secret)(?P<sep>['\"]?\s*[=:]\s*['\"]?)(?P<val>[^\s&;,'\"]+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` with any user:password part replaced by ``***``.

    Works on camera URLs (rtsp://user:pass@host/...) and database URLs alike; a
    string that is not a URL comes back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or "@" not in parts.netloc:
        return redact_text(url)  # libpq also takes ?password=... in the query
    host = parts.netloc.rsplit("@", 1)[1]
    return redact_text(urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment)))


def url_origin(url: str) -> str:
    """``scheme://host[:port]/…``: what a log line or a status may show of a URL whose path or
    query may itself be the secret (Home Assistant ``/api/webhook/<id>``, Slack
    ``/services/T/B/XXX``, ``?sig=``); credentials dropped too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return "***"
    host = parts.netloc.rsplit("@", 1)[-1]
    rest = "/…" if parts.path not in ("", "/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{rest}"


def redact_text(text: str) -> str:
    """Strip URL credentials and ``password=...``-style values from free text."""
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + "***@", text)
    return _KV_SECRET.sub(lambda m: m.group("key") + m.group("sep") + "***", text)
