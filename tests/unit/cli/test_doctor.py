"""`sputnik-edge doctor`: one ok/FAIL line per part, exit 1 when any part fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tomli_w

from sputnik_edge.cli import main
from sputnik_edge.health import LOW_DISK_MB
from tests.conftest import clear_config_env


def write_config(tmp_path: Path, **sections: object) -> Path:
    cfg: dict[str, object] = {
        "storage": {
            "database": str(tmp_path / "state" / "edge.db"),
            "snapshots_dir": str(tmp_path / "snaps"),
        },
        **sections,
    }
    path = tmp_path / "config.toml"
    path.write_bytes(tomli_w.dumps(cfg).encode())
    return path


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = main(["doctor", "--config", str(config)])
    lines = capsys.readouterr().out.strip().splitlines()
    by_part = {}
    for line in lines:
        status, rest = line[:4].strip(), line[5:]
        part, _, detail = rest.partition(": ")
        by_part[part] = f"{status} {detail}"
    return code, by_part


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


def test_healthy_device(tmp_path: Path, capsys: pytest.CaptureFixture[str], faces_dir: Path) -> None:
    clip = faces_dir / "video" / "short_hamilton_clip.mp4"
    config = write_config(tmp_path, cameras=[{"id": "door", "source": str(clip)}])
    code, parts = doctor(config, capsys)
    assert code == 0, parts
    assert parts["model detector"].startswith("ok") and "sha256 ok" in parts["model detector"]
    assert parts["model embedder"].startswith("ok")
    # liveness.mode defaults to monitor, which runs the face mesh.
    assert parts["model face landmark"] == "ok face_landmark.onnx sha256 ok"
    assert parts["storage"] == f"ok {tmp_path / 'state' / 'edge.db'}: 0 event(s) pending"
    assert parts["disk"].startswith("ok") and f"at least {LOW_DISK_MB} MB" in parts["disk"]
    assert parts["camera door"] == f"ok {clip}: frame 640x360"
    assert parts["central"] == "ok not configured (standalone)"


def test_each_failure_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    broken = tmp_path / "models"
    shutil.copytree(models_dir, broken)
    data = bytearray((broken / "sface_int8.onnx").read_bytes())
    data[-1] ^= 0xFF  # one flipped byte: the sha256 no longer matches the manifest
    (broken / "sface_int8.onnx").write_bytes(bytes(data))
    config = write_config(
        tmp_path,
        recognition={"models_dir": str(broken)},
        cameras=[{"id": "gone", "source": "rtsp://user:secret@127.0.0.1:9/none", "open_timeout_s": 1}],
        central={"database_url": "postgresql://sputnik:secret@127.0.0.1:9/central", "connect_timeout_s": 2},
    )
    code, parts = doctor(config, capsys)
    assert code == 1
    assert parts["model detector"].startswith("ok")
    assert parts["model embedder"].startswith("FAIL") and "sha256" in parts["model embedder"]
    assert parts["model enrolment embedder"].startswith("ok")  # the float file is intact
    assert parts["camera gone"].startswith("FAIL") and "secret" not in parts["camera gone"]
    assert parts["central"].startswith("FAIL") and "secret" not in parts["central"]
    assert "127.0.0.1:9" in parts["central"]


def test_face_landmark_checked_unless_liveness_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    broken = tmp_path / "models"
    shutil.copytree(models_dir, broken)
    data = bytearray((broken / "face_landmark.onnx").read_bytes())
    data[-1] ^= 0xFF
    (broken / "face_landmark.onnx").write_bytes(bytes(data))
    config = write_config(tmp_path, recognition={"models_dir": str(broken)})
    code, parts = doctor(config, capsys)
    assert code == 1 and parts["model face landmark"].startswith("FAIL")
    assert "sha256" in parts["model face landmark"]
    config = write_config(tmp_path, recognition={"models_dir": str(broken)}, liveness={"mode": "off"})
    code, parts = doctor(config, capsys)
    assert code == 0, parts
    assert "model face landmark" not in parts
