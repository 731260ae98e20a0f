"""Configuration: a TOML file, overridden by environment variables, validated strictly.

Precedence, highest first: ``SPUTNIK_<SECTION>__<KEY>`` environment variables, the flat
variables of the original ``.env`` design (``DATABASE_URL``, ``PORT``, ...), secrets from
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), the TOML file, built-in defaults.
Unknown keys and bad values fail with a message naming the key path and the value.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from sputnik_edge.config_outputs import OutputSection, check_outputs, redact_outputs
from sputnik_edge.redaction import redact_text, redact_url

DEFAULT_CONFIG_PATH = Path("/etc/sputnik-edge/config.toml")


def _state_dir() -> Path:
    # systemd's StateDirectory= exports STATE_DIRECTORY; fall back to the FHS location.
    return Path(os.environ.get("STATE_DIRECTORY", "/var/lib/sputnik-edge").split(":")[0])


class ConfigError(ValueError):
    """Configuration that cannot be used; the message names the key or file."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class AppSection(StrictModel):
    name: str = "sputnik-edge"
    version: str = ""  # empty: the installed package version
    debug: bool = False


class DeviceSection(StrictModel):
    id: str = Field(default="door-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = ""
    location: str = ""


class CameraSection(StrictModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    source: str = Field(min_length=1)
    direction: Literal["in", "out", "pass"] = "in"
    fps_limit: float = Field(default=10.0, ge=0, le=120)  # frames processed per second; 0 = all
    open_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=5.0, gt=0, le=120)
    loop: bool = False  # loop a file source forever (demos, soak tests)
    enabled: bool = True


BLAZEFACE_SCORE_DEFAULTS = {"det_score_threshold": 0.5, "quality_min_det_score": 0.75}


class RecognitionSection(StrictModel):
    models_dir: Path | None = None  # None: the models/ folder shipped with the package
    # yunet (default) or blazeface (BlazeFace full range; needs the mediapipe extra)
    detector: Literal["yunet", "blazeface"] = "yunet"
    # SFace precision: int8 (default, ~1.5x faster per face) or float32; both write and read the
    # same templates (README "Models")
    embedder_precision: Literal["int8", "float32"] = "int8"
    match_threshold: float = Field(default=0.55, ge=-1, le=1)
    low_confidence_threshold: float = Field(default=0.40, ge=-1, le=1)
    min_margin: float = Field(default=0.05, ge=0, le=2)
    det_score_threshold: float = Field(default=0.6, gt=0, lt=1)  # detector: faces to track
    quality_min_det_score: float = Field(default=0.8, gt=0, le=1)  # gate: faces worth embedding
    nms_threshold: float = Field(default=0.3, gt=0, lt=1)
    detect_max_side: int = Field(default=640, ge=0, le=4096)
    min_face_px: float = Field(default=40, ge=8)
    min_blur: float = Field(default=25.0, ge=0)
    max_yaw_deg: float = Field(default=40, gt=0, le=90)
    max_pitch_deg: float = Field(default=35, gt=0, le=90)
    min_brightness: float = Field(default=40, ge=0, le=255)
    max_brightness: float = Field(default=220, ge=0, le=255)
    threads: int = Field(default=0, ge=0, le=64)  # onnxruntime intra-op threads; 0 = auto
    # onnxruntime's pool spins between the operators of one run and sleeps after it: a faster
    # back-to-back embed, but more CPU and a longer p90 at a door's frame rate (README "Speed").
    spin_within_run: bool = False
    # A second detector pass on a contrast-enhanced copy of backlit frames (bright window behind
    # the person) when the first found no usable face.
    backlight_pass: bool = True

    @model_validator(mode="before")
    @classmethod
    def _detector_defaults(cls, data: Any) -> Any:
        # BlazeFace scores the dev faces 0.75-0.96 where YuNet gives 0.92-0.95, so its
        # score floors default lower; values set explicitly are kept.
        if isinstance(data, dict) and data.get("detector") == "blazeface":
            data = {**BLAZEFACE_SCORE_DEFAULTS, **data}
        return data

    @field_validator("detector")
    @classmethod
    def _detector_installed(cls, value: str) -> str:
        if value == "blazeface" and importlib.util.find_spec("mediapipe") is None:
            raise ValueError(
                "'blazeface' needs the mediapipe extra, which is not installed "
                "(pip install 'sputnik-edge[mediapipe]'), or use 'yunet'"
            )
        return value

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> RecognitionSection:
        if self.low_confidence_threshold > self.match_threshold:
            raise ValueError(
                "recognition -> low_confidence_threshold "
                f"({self.low_confidence_threshold}) must not exceed match_threshold ({self.match_threshold})"
            )
        if self.min_brightness >= self.max_brightness:
            raise ValueError("recognition -> min_brightness must be below max_brightness")
        return self


class AttendanceSection(StrictModel):
    min_frames: int = Field(default=3, ge=1, le=100)
    cooldown_s: float = Field(default=300, ge=0)
    track_iou: float = Field(default=0.3, gt=0, lt=1)
    track_max_age_s: float = Field(default=1.5, gt=0, le=60)
    reembed_quality_gain: float = Field(
        default=0.1, ge=0, le=1
    )  # embed again when quality improves this much
    max_embeds_per_track: int = Field(default=8, ge=1, le=1000)


LIVENESS_CUES = ("blink", "motion", "border")  # the names sputnik_edge.liveness.types uses


class LivenessSection(StrictModel):
    """Presentation-attack detection per track (README "Liveness")."""

    # monitor by default: RGB cues leave some real people undecided (a still face that does not
    # blink) and some attacks get through, so a site opts into refusing check-ins deliberately.
    mode: Literal["off", "monitor", "enforce"] = "monitor"
    cues: list[str] = Field(default_factory=lambda: list(LIVENESS_CUES))
    border_frames: int = Field(default=3, ge=1, le=100)  # frames whose edges moved with the face: spoof
    min_frames_live: int = Field(default=5, ge=1, le=100)  # frames seen before a live verdict
    max_frames: int = Field(default=150, ge=1, le=10_000)  # an undecided track stops being analysed

    @field_validator("cues")
    @classmethod
    def _known_cues(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(LIVENESS_CUES))
        if unknown:
            raise ValueError(
                f"liveness -> cues: unknown cue(s) {', '.join(unknown)} (known: {', '.join(LIVENESS_CUES)})"
            )
        return value


class StorageSection(StrictModel):
    database: Path = Field(default_factory=lambda: _state_dir() / "edge.db")
    snapshots_dir: Path = Field(default_factory=lambda: _state_dir() / "snapshots")
    save_snapshots: bool = True
    snapshot_ttl_days: float = Field(default=7, ge=0)
    event_retention_days: float = Field(default=90, gt=0)


class CentralSection(StrictModel):
    database_url: SecretStr = SecretStr("")  # empty: standalone, everything stays local
    sync_interval_s: float = Field(default=5, gt=0)
    gallery_interval_s: float = Field(default=30, gt=0)
    heartbeat_interval_s: float = Field(default=60, gt=0)
    batch_size: int = Field(default=500, ge=1, le=10000)
    connect_timeout_s: float = Field(default=5, gt=0, le=120)
    office_timezone: str = "UTC"
    store_photos: bool = False  # keep enrolment photos centrally so templates can be recomputed
    # Send the face crop and embedding of `unknown` events with the push, so the office can group
    # unknown visitors and enrol them. Biometric data of people who are not employees: off by default.
    upload_unknown_snapshots: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.database_url.get_secret_value())


class HttpSection(StrictModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    api_token: SecretStr = SecretStr("")
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=16_000_000, ge=10_000)  # gateway images; refused from the header
    rate_limit_per_minute: int = Field(default=120, ge=0)  # per client on the gateway; 0 = off
    static_path: Path | None = None
    ui_language: Literal["auto", "en", "ru"] = "auto"  # the status page; auto: the browser's language

    @model_validator(mode="after")
    def _token_when_exposed(self) -> HttpSection:
        try:
            loopback = self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name other than localhost may resolve anywhere
            loopback = False
        if self.enabled and not loopback and not self.api_token.get_secret_value():
            raise ValueError(
                f"http -> host {self.host!r} is not loopback: set http.api_token "
                "(or SPUTNIK_HTTP__API_TOKEN) before exposing the API"
            )
        return self


class LoggingSection(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _upper(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("level"), str):
            data = {**data, "level": data["level"].upper()}
        return data


# Flat variables of the original .env design -> key path in the nested config.
FLAT_ALIASES: dict[str, tuple[str, str]] = {
    "APP_NAME": ("app", "name"),
    "APP_VERSION": ("app", "version"),
    "DEBUG": ("app", "debug"),
    "HOST": ("http", "host"),
    "PORT": ("http", "port"),
    "DATABASE_URL": ("central", "database_url"),
    "LOG_LEVEL": ("logging", "level"),
    "STATIC_PATH": ("http", "static_path"),
    "DEBUG_PHOTOS_TTL_DAYS": ("storage", "snapshot_ttl_days"),
    "RECOGNITION_MATCH_THRESHOLD": ("recognition", "match_threshold"),
    "RECOGNITION_LOW_CONFIDENCE_THRESHOLD": ("recognition", "low_confidence_threshold"),
}

# systemd credentials (LoadCredential=NAME:...) -> key path.
CREDENTIALS: dict[str, tuple[str, str]] = {
    "api_token": ("http", "api_token"),
    "database_url": ("central", "database_url"),
}


class _DictSource(PydanticBaseSettingsSource):
    """A settings source holding an already built nested dict."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _nest(pairs: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for (section, key), value in pairs.items():
        out.setdefault(section, {})[key] = value
    return dict(out)


def _flat_env(aliases: Mapping[str, tuple[str, str]] = FLAT_ALIASES) -> dict[str, Any]:
    return _nest({path: os.environ[name] for name, path in aliases.items() if name in os.environ})


def _credentials(credentials: Mapping[str, tuple[str, str]] = CREDENTIALS) -> dict[str, Any]:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return {}
    found: dict[tuple[str, str], Any] = {}
    for name, path in credentials.items():
        file = Path(directory) / name
        value = file.read_text().strip() if file.is_file() else ""
        if value:  # an empty credential file means "not set" (standalone device)
            found[path] = value
    return _nest(found)


def layered_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    *,
    aliases: Mapping[str, tuple[str, str]],
    credentials: Mapping[str, tuple[str, str]],
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The precedence of every Sputnik settings class (the device's and the office server's):
    prefixed environment > flat aliases > credentials > TOML (init kwargs) > defaults."""
    return (
        env_settings,
        _DictSource(settings_cls, _flat_env(aliases)),
        _DictSource(settings_cls, _credentials(credentials)),
        init_settings,
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPUTNIK_",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    app: AppSection = AppSection()
    device: DeviceSection = DeviceSection()
    cameras: list[CameraSection] = Field(default_factory=list)
    recognition: RecognitionSection = RecognitionSection()
    attendance: AttendanceSection = AttendanceSection()
    liveness: LivenessSection = LivenessSection()
    storage: StorageSection = StorageSection()
    central: CentralSection = CentralSection()
    http: HttpSection = HttpSection()
    logging: LoggingSection = LoggingSection()
    outputs: list[OutputSection] = Field(default_factory=list)  # webhooks, MQTT (config_outputs.py)

    @model_validator(mode="after")
    def _unique_cameras(self) -> Settings:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"cameras -> duplicate camera id(s): {', '.join(dupes)}")
        check_outputs(self.outputs, ids)
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
        # init kwargs carry the TOML file, so they rank *below* the environment.
        return layered_sources(
            settings_cls, init_settings, env_settings, aliases=FLAT_ALIASES, credentials=CREDENTIALS
        )


def find_config_path(
    explicit: str | os.PathLike[str] | None,
    *,
    env_var: str = "SPUTNIK_CONFIG",
    default: Path = DEFAULT_CONFIG_PATH,
) -> Path | None:
    """--config, then $SPUTNIK_CONFIG, then /etc/sputnik-edge/config.toml, then none (defaults).
    (The office server passes its own variable and default file.)"""
    if explicit:
        return Path(explicit)
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    return default if default.is_file() else None


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(item)
    return ".".join(parts) or "(root)"


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        key = _format_loc(tuple(e["loc"]))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
            continue
        value = e.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        if "secret" in key or "token" in key or "password" in key:
            shown = ""
        elif "database_url" in key and isinstance(value, str):
            shown = f" (got {redact_url(value)!r})"
        lines.append(f"{key}: {msg}{redact_text(shown)}")
    return f"invalid configuration in {source}: " + "; ".join(lines)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], cfg_path: Path | None) -> SettingsT:
    """Read ``cfg_path`` (None: defaults + environment only) into ``cls``; raise ConfigError with a
    one-line, key-naming message. Shared by the device and the office server."""
    data: dict[str, Any] = {}
    source = "defaults + environment"
    if cfg_path is not None:
        source = str(cfg_path)
        try:
            with cfg_path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {cfg_path}") from None
        except PermissionError:
            raise ConfigError(f"config file not readable: {cfg_path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config path is a directory, not a file: {cfg_path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {cfg_path} is not valid TOML: {exc}") from None
    try:
        return cls(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate; raise ConfigError with a one-line, key-naming message."""
    return load_settings(Settings, find_config_path(path))


def redacted_dump(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data with secrets masked (for check-config)."""
    data = settings.model_dump(mode="json")
    url = settings.central.database_url.get_secret_value()
    data["central"]["database_url"] = redact_url(url) if url else ""
    data["http"]["api_token"] = "***" if settings.http.api_token.get_secret_value() else ""
    for cam in data["cameras"]:
        cam["source"] = redact_url(cam["source"])
    redact_outputs(data["outputs"])
    return data


__all__ = [
    "CREDENTIALS",
    "FLAT_ALIASES",
    "CameraSection",
    "ConfigError",
    "Settings",
    "find_config_path",
    "layered_sources",
    "load_config",
    "load_settings",
    "redacted_dump",
]
