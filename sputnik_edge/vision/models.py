"""Prepared model files: the MANIFEST written by ``prepare`` and sha256 verification at load time."""

from __future__ import annotations

import hashlib
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAME = "MANIFEST"
_REQUIRED = (
    "name",
    "model_id",
    "file",
    "sha256",
    "source_package",
    "source_version",
    "source_file",
    "source_sha256",
    "upstream",
    "licence",
    "licence_file",
    "input_size",
)


class ModelError(ValueError):
    """A model file or the manifest is missing or malformed."""


class ModelIntegrityError(ModelError):
    """A model file does not match the sha256 recorded in the manifest."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(f"model file {path} has sha256 {actual}, manifest expects {expected}")
        self.path = path
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One ``[[model]]`` table of models/MANIFEST."""

    name: str  # detector | embedder
    model_id: str
    file: str
    sha256: str
    source_package: str
    source_version: str
    source_file: str
    source_sha256: str
    upstream: str
    licence: str
    licence_file: str
    input_size: tuple[int, int]
    cosine_match: float | None = None
    l2_match: float | None = None
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def detector_model_name(detector: str) -> str:
    """Manifest entry of a ``recognition.detector`` choice (YuNet's entry predates the choice)."""
    return "blazeface" if detector == "blazeface" else "detector"


def embedder_model_name(precision: str) -> str:
    """Manifest entry of a ``recognition.embedder_precision`` choice."""
    return "embedder" if precision == "float32" else "embedder_int8"


def template_model_id(spec: ModelSpec) -> str:
    """The model id templates are stored under: an embedder variant whose embeddings are
    interchangeable with another model's (the int8 SFace with the float one) names that model as
    ``template_model_id``, so devices on either variant share one gallery."""
    return str(spec.extra.get("template_model_id") or spec.model_id)


def default_models_dir() -> Path:
    """``models/`` of a source checkout (editable install), else the copy a wheel installs
    under ``<prefix>/share/sputnik-edge/models``."""
    source = Path(__file__).resolve().parents[2] / "models"
    if (source / "MANIFEST").is_file():
        return source
    installed = Path(sys.prefix) / "share" / "sputnik-edge" / "models"
    return installed if (installed / "MANIFEST").is_file() else source


def load_manifest(models_dir: Path) -> dict[str, ModelSpec]:
    """Parse ``models_dir/MANIFEST`` into specs keyed by name (detector, embedder)."""
    path = models_dir / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model manifest {path} not found (run `sputnik-edge prepare-models`)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model manifest {path} is not valid TOML: {exc}") from exc
    tables = data.get("model")
    if not isinstance(tables, list) or not tables:
        raise ModelError(f"model manifest {path} has no [[model]] tables")
    specs: dict[str, ModelSpec] = {}
    for i, table in enumerate(tables):
        missing = [key for key in _REQUIRED if key not in table]
        if missing:
            raise ModelError(f"model manifest {path}: model #{i + 1} lacks {', '.join(missing)}")
        size = table["input_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise ModelError(f"model manifest {path}: model {table['name']!r} input_size must be [w, h]")
        known = set(_REQUIRED) | {"cosine_match", "l2_match", "note"}
        spec = ModelSpec(
            **{key: str(table[key]) for key in _REQUIRED if key != "input_size"},
            input_size=(size[0], size[1]),
            cosine_match=_opt_float(table.get("cosine_match")),
            l2_match=_opt_float(table.get("l2_match")),
            note=str(table.get("note", "")),
            extra={k: v for k, v in table.items() if k not in known},
        )
        if spec.name in specs:
            raise ModelError(f"model manifest {path}: model {spec.name!r} listed twice")
        specs[spec.name] = spec
    return specs


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(models_dir: Path, name: str) -> Path:
    """Path of model ``name`` after checking its sha256 against the manifest."""
    specs = load_manifest(models_dir)
    spec = specs.get(name)
    if spec is None:
        raise ModelError(f"model {name!r} not in {models_dir / MANIFEST_NAME} (has {sorted(specs)})")
    path = models_dir / spec.file
    if not path.is_file():
        raise ModelError(f"model file {path} for {name!r} is missing")
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise ModelIntegrityError(path, spec.sha256, actual)
    return path
