"""Configuration of the office server (``sputnik-office``): the device's rules, its own keys.

A TOML file (``office.example.toml`` lists every key with its default), overridden by
``SPUTNIK_OFFICE_<SECTION>__<KEY>`` environment variables (a prefix of its own, so a host that runs
a door device too keeps the two apart), the flat aliases ``DATABASE_URL``, ``HOST``, ``PORT``,
``LOG_LEVEL``, and secrets from ``$CREDENTIALS_DIRECTORY`` (files ``database_url``,
``secret_key``). Unknown keys and bad values fail with one line naming the key.

What a running server needs (a database URL; a secret key before it listens beyond loopback) is
checked by ``serve``, not here, so ``users add`` or ``db upgrade`` work from an admin's shell that
lacks the service's credentials.
"""

from __future__ import annotations

import ipaddress
import os
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sputnik_edge.config import (
    LoggingSection,
    RecognitionSection,
    StrictModel,
    find_config_path,
    layered_sources,
    load_settings,
)
from sputnik_edge.redaction import redact_url

DEFAULT_OFFICE_CONFIG_PATH = Path("/etc/sputnik-office/office.toml")
CONFIG_ENV_VAR = "SPUTNIK_OFFICE_CONFIG"
ENV_PREFIX = "SPUTNIK_OFFICE_"
MIN_SECRET_KEY_BYTES = 32  # what office.security's signer and CSRF HMAC require

OFFICE_FLAT_ALIASES: dict[str, tuple[str, str]] = {
    "HOST": ("http", "host"),
    "PORT": ("http", "port"),
    "DATABASE_URL": ("central", "database_url"),
    "LOG_LEVEL": ("logging", "level"),
}
OFFICE_CREDENTIALS: dict[str, tuple[str, str]] = {
    "database_url": ("central", "database_url"),
    "secret_key": ("http", "secret_key"),
}


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


class OfficeAppSection(StrictModel):
    name: str = "sputnik-office"
    version: str = ""  # empty: the installed package version
    debug: bool = False


class OfficeHttpSection(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=16_000_000, ge=10_000)
    # Signs session cookies and CSRF tokens; empty: an ephemeral key (loopback only).
    secret_key: SecretStr = SecretStr("")
    session_max_age_s: int = Field(default=8 * 3600, ge=60, le=30 * 86400)
    secure_cookies: bool = False  # Secure cookies even when the request did not come over https
    trusted_proxies: list[str] = Field(default_factory=list)  # addresses or networks
    login_attempts_per_address: int = Field(default=20, ge=1)
    login_attempts_per_username: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=300, gt=0)
    gateway_rate_limit_per_minute: int = Field(default=120, ge=0)  # per camera; 0 = off
    ui_language: Literal["auto", "en", "ru"] = "auto"  # the web pages; auto: the browser's language

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and len(raw.encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"must be at least {MIN_SECRET_KEY_BYTES} bytes (e.g. `python -c "
                "'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value


class OfficeCentralSection(StrictModel):
    database_url: SecretStr = SecretStr("")
    connect_timeout_s: float = Field(default=5, gt=0, le=120)
    store_photos: bool = False  # keep enrolment photos so templates can be recomputed for a new model

    @property
    def enabled(self) -> bool:
        return bool(self.database_url.get_secret_value())


class OfficeSection(StrictModel):
    timezone: str = "UTC"  # written to settings.office_timezone by `db upgrade`
    device_stale_after_s: float = Field(default=300, gt=0)
    unknown_retention_days: int = Field(default=30, ge=1)  # unknown visitors' face crops
    # The "unknown visitors" page and API: groups faces that devices upload with
    # central.upload_unknown_snapshots. Off by default, like the upload itself.
    unknown_visitors: bool = False
    unknown_group_threshold: float = Field(default=0.45, gt=0, lt=1)  # cosine similarity within a group

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Europe/Berlin)") from None
        return value


class OfficeCameraSection(StrictModel):
    """A camera that pushes snapshots to the office; its events belong to device ``office:<id>``."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    direction: Literal["in", "out", "pass"] = "in"
    token: SecretStr
    cooldown_s: float = Field(default=300, ge=0)

    @field_validator("token")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @property
    def device_id(self) -> str:
        return f"office:{self.id}"


class OfficeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    app: OfficeAppSection = OfficeAppSection()
    http: OfficeHttpSection = OfficeHttpSection()
    central: OfficeCentralSection = OfficeCentralSection()
    recognition: RecognitionSection = RecognitionSection()
    office: OfficeSection = OfficeSection()
    cameras: list[OfficeCameraSection] = Field(default_factory=list)
    logging: LoggingSection = LoggingSection()

    @model_validator(mode="after")
    def _unique_cameras(self) -> OfficeSettings:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"cameras -> duplicate camera id(s): {', '.join(dupes)}")
        tokens = [c.token.get_secret_value() for c in self.cameras]
        if len(set(tokens)) != len(tokens):
            raise ValueError("cameras -> two cameras share a token: give each camera its own")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return layered_sources(
            settings_cls,
            init_settings,
            env_settings,
            aliases=OFFICE_FLAT_ALIASES,
            credentials=OFFICE_CREDENTIALS,
        )


def load_office_config(path: str | os.PathLike[str] | None = None) -> OfficeSettings:
    """--config, then $SPUTNIK_OFFICE_CONFIG, then /etc/sputnik-office/office.toml, then defaults;
    raises ``sputnik_edge.config.ConfigError`` with a one-line message naming the key."""
    found = find_config_path(path, env_var=CONFIG_ENV_VAR, default=DEFAULT_OFFICE_CONFIG_PATH)
    return load_settings(OfficeSettings, found)


def redacted_office_dump(settings: OfficeSettings) -> dict[str, Any]:
    """The effective configuration as plain data with secrets masked (for check-config)."""
    data = settings.model_dump(mode="json")
    url = settings.central.database_url.get_secret_value()
    data["central"]["database_url"] = redact_url(url) if url else ""
    data["http"]["secret_key"] = "***" if settings.http.secret_key.get_secret_value() else ""
    for cam in data["cameras"]:
        cam["token"] = "***"
    return data


__all__ = [
    "OFFICE_CREDENTIALS",
    "OFFICE_FLAT_ALIASES",
    "OfficeCameraSection",
    "OfficeSettings",
    "is_loopback",
    "load_office_config",
    "redacted_office_dump",
]
