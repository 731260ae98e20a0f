"""Translations of the web pages (English and Russian), chosen by a setting or the browser.

Keys are shared by the templates (``t("key")``) and the page scripts (the same dictionary is
embedded in the page as JSON), so a label reads the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Mapping

from sputnik_edge.web.i18n_office import OFFICE_MESSAGES

LANGUAGES = ("en", "ru")

DEVICE_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "device_status": "Device status",
        "status_ok": "OK",
        "status_degraded": "Degraded",
        "status_down": "Down",
        "status_unknown": "Connecting…",
        "version": "Version",
        "uptime": "Up",
        "cameras": "Cameras",
        "camera_state_up": "up",
        "camera_state_down": "down",
        "camera_state_connecting": "connecting",
        "camera_state_stopped": "stopped",
        "fps": "fps",
        "no_frame": "No frame yet",
        "preview_alt": "Live preview of camera {camera}",
        "faces_seen": "faces seen",
        "median_face": "median face",
        "min_face": "minimum",
        "hint_faces_too_small": "Faces are too small: move the camera closer or zoom in.",
        "hint_too_dark": "Faces are too dark: light them from the front, avoid a bright window behind them.",
        "hint_too_bright": "Faces are over-exposed: reduce direct light or lower the exposure.",
        "hint_too_blurry": "Faces are blurred: check focus, clean the lens, or use a shorter shutter.",
        "hint_none": "No placement problem seen.",
        "recent_events": "Recent events",
        "time": "Time",
        "kind": "Event",
        "who": "Who",
        "camera": "Camera",
        "similarity": "Similarity",
        "synced": "Synced",
        "yes": "yes",
        "no": "no",
        "no_events": "No events yet.",
        "system": "System",
        "gallery": "Gallery",
        "employees": "employees",
        "templates": "templates",
        "outbox": "Outbox backlog",
        "disk_free": "Disk free",
        "central": "Central database",
        "central_off": "not configured (standalone)",
        "last_push": "last push",
        "last_error": "Last error",
        "token_title": "This device needs its API token",
        "token_label": "API token",
        "token_submit": "Open",
        "token_wrong": "The token was not accepted.",
        "language": "Language",
        "kind_check_in": "check-in",
        "kind_check_out": "check-out",
        "kind_pass": "pass",
        "kind_unknown": "unknown",
        "kind_low_confidence": "low confidence",
        "kind_spoof_suspected": "spoof suspected",
    },
    "ru": {
        "device_status": "Состояние устройства",
        "status_ok": "Работает",
        "status_degraded": "Есть проблемы",
        "status_down": "Не работает",
        "status_unknown": "Подключение…",
        "version": "Версия",
        "uptime": "Работает",
        "cameras": "Камеры",
        "camera_state_up": "работает",
        "camera_state_down": "нет связи",
        "camera_state_connecting": "подключение",
        "camera_state_stopped": "остановлена",
        "fps": "к/с",
        "no_frame": "Кадров пока нет",
        "preview_alt": "Живое изображение с камеры {camera}",
        "faces_seen": "лиц замечено",
        "median_face": "медиана лица",
        "min_face": "минимум",
        "hint_faces_too_small": "Лица слишком мелкие: придвиньте камеру или увеличьте зум.",
        "hint_too_dark": "Лица слишком тёмные: добавьте свет спереди или уберите яркое окно за спиной.",
        "hint_too_bright": "Лица пересвечены: уменьшите прямой свет или экспозицию.",
        "hint_too_blurry": "Лица размыты: проверьте фокус, протрите объектив или сократите выдержку.",
        "hint_none": "Проблем с установкой камеры не видно.",
        "recent_events": "Последние события",
        "time": "Время",
        "kind": "Событие",
        "who": "Кто",
        "camera": "Камера",
        "similarity": "Сходство",
        "synced": "Отправлено",
        "yes": "да",
        "no": "нет",
        "no_events": "Событий пока нет.",
        "system": "Система",
        "gallery": "Галерея",
        "employees": "сотрудников",
        "templates": "шаблонов",
        "outbox": "Очередь отправки",
        "disk_free": "Свободно на диске",
        "central": "Центральная база",
        "central_off": "не настроена (автономно)",
        "last_push": "последняя отправка",
        "last_error": "Последняя ошибка",
        "token_title": "Для этого устройства нужен API-токен",
        "token_label": "API-токен",
        "token_submit": "Открыть",
        "token_wrong": "Токен не подошёл.",
        "language": "Язык",
        "kind_check_in": "приход",
        "kind_check_out": "уход",
        "kind_pass": "проход",
        "kind_unknown": "неизвестный",
        "kind_low_confidence": "неуверенно",
        "kind_spoof_suspected": "подозрение на подделку",
    },
}

# One namespace for both sets of pages (the office's strings live in i18n_office to keep files small).
MESSAGES: dict[str, dict[str, str]] = {
    lang: {**DEVICE_MESSAGES[lang], **OFFICE_MESSAGES[lang]} for lang in LANGUAGES
}


def pick_language(setting: str, accept_language: str | None, query: str | None = None) -> str:
    """``?lang=`` wins, then a fixed setting, then the browser's Accept-Language, then English."""
    if query in LANGUAGES:
        return query
    if setting in LANGUAGES:
        return setting
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return "en"


def messages(lang: str) -> Mapping[str, str]:
    return MESSAGES.get(lang, MESSAGES["en"])
