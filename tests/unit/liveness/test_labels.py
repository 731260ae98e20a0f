"""Every event kind, spoof_suspected included, has a label on the pages in both languages."""

from __future__ import annotations

from sputnik_edge.attendance.types import EVENT_KINDS
from sputnik_edge.web.i18n import LANGUAGES, messages


def test_every_event_kind_is_translated() -> None:
    for lang in LANGUAGES:
        labels = messages(lang)
        missing = [k for k in EVENT_KINDS if not labels.get(f"kind_{k}")]
        assert missing == [], (lang, missing)
    assert messages("en")["kind_spoof_suspected"] != messages("ru")["kind_spoof_suspected"]
