"""The ``[[outputs]]`` tables of the configuration: where events go besides the central database.

Kept beside ``config.py`` (which includes them in ``Settings``) so that file stays one screen per
section. Secrets (a webhook's signing secret, an MQTT password) come from
``$CREDENTIALS_DIRECTORY/output_<id>_secret`` / ``output_<id>_password`` (systemd
``LoadCredential=``) and only then from the TOML file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from sputnik_edge.redaction import redact_url

_ID = r"^[A-Za-z0-9_.\-]+$"
_EVENT_KIND = r"^[a-z_]+$"  # checked against attendance.types.EVENT_KINDS when the daemon builds outputs
_TOPIC_WORD = re.compile(r"^[^#+\s]+(/[^#+\s]+)*$")


def credential(name: str) -> str:
    """The content of ``$CREDENTIALS_DIRECTORY/NAME`` stripped, or "" when unset or absent."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return ""
    file = Path(directory) / name
    return file.read_text().strip() if file.is_file() else ""


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    id: str = Field(min_length=1, max_length=64, pattern=_ID)
    enabled: bool = True
    # Empty: every kind / every camera.
    events: list[Annotated[str, Field(pattern=_EVENT_KIND)]] = Field(default_factory=list)
    cameras: list[str] = Field(default_factory=list)
    # A base64 JPEG of the event's snapshot (when one exists). Personal data: off unless asked for.
    include_snapshot: bool = False
    batch_size: int = Field(default=50, ge=1, le=1000)
    backoff_initial_s: float = Field(default=1.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=60.0, gt=0, le=86400)
    # Retention keeps undelivered events for this output up to this many; beyond it the oldest
    # are skipped (a warning counts them) so a dead receiver cannot fill the disk.
    max_backlog: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _backoff_ordered(self) -> _Output:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"outputs -> {self.id}: backoff_max_s must not be below backoff_initial_s")
        return self


def _with_credential(data: Any, field: str) -> Any:
    """A credential file for this output's secret wins over the TOML value (systemd credentials
    rank above the file, as for ``api_token``)."""
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        value = credential(f"output_{data['id']}_{field}")
        if value:
            data = {**data, field: value}
    return data


class WebhookOutput(_Output):
    kind: Literal["webhook"]
    url: str
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict)
    secret: SecretStr = SecretStr("")  # HMAC-SHA256 key; better as credential output_<id>_secret

    @model_validator(mode="before")
    @classmethod
    def _secret_from_credentials(cls, data: Any) -> Any:
        return _with_credential(data, "secret")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _own_headers(cls, value: dict[str, str]) -> dict[str, str]:
        taken = {"content-type", "idempotency-key", "x-sputnik-signature", "content-length", "host"}
        clash = sorted(k for k in value if k.lower() in taken)
        if clash:
            raise ValueError(f"header(s) {', '.join(clash)} are set by the device")
        return value

    @model_validator(mode="after")
    def _needs_secret(self) -> WebhookOutput:
        if self.enabled and not self.secret.get_secret_value():
            raise ValueError(
                f"outputs -> {self.id}: a webhook needs a signing secret: the credential file "
                f"output_{self.id}_secret in $CREDENTIALS_DIRECTORY (or secret = ...)"
            )
        return self


class MqttOutput(_Output):
    kind: Literal["mqtt"]
    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    ca_file: Path | None = None  # None with tls: the system's CA store
    username: str = ""
    password: SecretStr = SecretStr("")  # better as credential output_<id>_password
    client_id: str = ""  # empty: sputnik-<device id>-<output id>
    topic_prefix: str = "sputnik"
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    timeout_s: float = Field(default=10.0, gt=0, le=120)  # connect and PUBACK wait
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"

    @model_validator(mode="before")
    @classmethod
    def _password_from_credentials(cls, data: Any) -> Any:
        return _with_credential(data, "password")

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not _TOPIC_WORD.match(value):
            raise ValueError("must be MQTT topic levels without wildcards, spaces or empty levels")
        return value


OutputSection = Annotated[WebhookOutput | MqttOutput, Field(discriminator="kind")]


def check_outputs(outputs: list[WebhookOutput | MqttOutput], camera_ids: list[str]) -> None:
    """Rules across the list: unique ids, cameras that exist, CA files that exist (messages name
    the key)."""
    ids = [o.id for o in outputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"outputs -> duplicate output id(s): {', '.join(dupes)}")
    for i, out in enumerate(outputs):
        unknown = sorted(set(out.cameras) - set(camera_ids))
        if unknown:
            raise ValueError(
                f"outputs[{i}].cameras: no camera with id {', '.join(map(repr, unknown))} "
                f"(configured: {', '.join(camera_ids) or 'none'})"
            )
        # Caught here, not when the output's thread first builds its TLS context, where it would
        # only be a log line and a failing output.
        if isinstance(out, MqttOutput) and out.enabled and out.ca_file and not out.ca_file.is_file():
            raise ValueError(f"outputs[{i}].ca_file: no such file: {out.ca_file}")


def redact_outputs(data: list[dict[str, Any]]) -> None:
    """Mask secrets in a JSON dump of the outputs (check-config)."""
    for out in data:
        for key in ("secret", "password"):
            if key in out:
                out[key] = "***" if out[key] else ""
        if "url" in out:
            out["url"] = redact_url(out["url"])
        if out.get("headers"):  # often an Authorization header
            out["headers"] = dict.fromkeys(out["headers"], "***")
