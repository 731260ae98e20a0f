"""`enroll --video` and `enroll --camera` on the real webcam clip, and clips that must be refused:
two people in the picture, two people one after the other, no usable face. Commands run in-process
through ``sputnik_edge.cli.main`` with the real models; nothing is written when a clip is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from sputnik_edge.cli import main
from sputnik_edge.config import load_config
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.store.local import LocalStore
from sputnik_edge.vision.imageio import load_image
from tests.conftest import clear_config_env, require
from tests.support.clips import write_clip
from tests.support.daemon import shared_recognizer

WEBCAM = "liveness/webcam_live.webm"


@pytest.fixture(scope="module", autouse=True)
def one_recognizer() -> Iterator[None]:
    """Every command gets the process's loaded models (each still loads its own gallery)."""
    models = shared_recognizer()

    def cached(cls: type[Recognizer], cfg: Any, gallery: Any = None) -> Recognizer:
        rec = Recognizer(models.detector, models.embedder, models.limits, models.thresholds)
        rec.backlight = models.backlight
        return rec

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Recognizer, "from_config", classmethod(cached))
        yield


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


@pytest.fixture(scope="module")
def webcam(faces_dir: Path) -> Path:
    path = faces_dir / WEBCAM
    require(path.is_file(), f"webcam clip not found at {path}")
    return path


def config(folder: Path, cameras: str = "") -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[storage]\ndatabase = "{folder}/state/edge.db"\nsnapshots_dir = "{folder}/state/snap"\n' + cameras
    )
    return path


def run(cfg: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["enroll", "--config", str(cfg), "-q", "--employee-id", "him", "--name", "Him", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def templates(cfg: Path) -> int:
    store = LocalStore(load_config(cfg).storage.database)
    try:
        return store.template_count()
    finally:
        store.close()


def test_enrol_from_webcam_clip_with_several_templates(
    tmp_path: Path, webcam: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    code, out, err = run(cfg, capsys, "--video", str(webcam), "--frames", "0-69")
    assert code == 0, err
    assert out.startswith("enrolled him (Him) with 5 template(s)"), out
    chosen = [line for line in out.splitlines() if line.strip().startswith("chose frame")]
    assert len(chosen) == 5 == templates(cfg)
    frames = [int(line.split()[2].rstrip(":")) for line in chosen]
    assert all(0 <= f <= 69 for f in frames) and len(set(frames)) == 5
    poses = {line.split(":")[1].split(",")[0].strip() for line in chosen}
    assert {"frontal", "turned_left", "turned_right"} <= poses  # he turns both ways in those frames
    assert "refused" in out and "pose_yaw" in out  # the profiles are named as refused


def test_two_people_in_the_picture_is_refused(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two = load_image(faces_dir / "multi_face/two_people.jpg")
    clip = write_clip(tmp_path / "two.avi", [two] * 12)
    cfg = config(tmp_path)
    code, _, err = run(cfg, capsys, "--video", str(clip))
    assert code == 2
    assert "refused: two or more people in 12 of 12 frames" in err, err
    assert templates(cfg) == 0


def test_two_people_one_after_the_other_is_refused(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obama = load_image(faces_dir / "images/barack_obama/obama.jpg")
    biden = load_image(faces_dir / "images/joe_biden/biden.jpg")
    clip = write_clip(tmp_path / "swap.avi", [obama] * 6 + [cv2.resize(biden, obama.shape[1::-1])] * 6)
    cfg = config(tmp_path)
    code, _, err = run(cfg, capsys, "--video", str(clip))
    assert code == 2
    assert "show someone else than the rest" in err, err
    assert templates(cfg) == 0


def test_clip_without_usable_face_is_refused_with_reasons(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    half = load_image(faces_dir / "images/barack_obama/obama_partial_face.jpg")  # a cut-off face
    blank = np.full_like(half, 128)
    clip = write_clip(tmp_path / "none.avi", [blank] * 5 + [half] * 5)
    cfg = config(tmp_path)
    code, _, err = run(cfg, capsys, "--video", str(clip))
    assert code == 2
    assert "refused: no usable face in 10 frame(s) (" in err and "no_face=5" in err, err
    assert "partial_face=5" in err, err
    assert templates(cfg) == 0


def test_enrol_from_a_configured_camera(
    tmp_path: Path, webcam: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, f'[[cameras]]\nid = "door"\nsource = "{webcam}"\n')
    code, out, err = run(cfg, capsys, "--camera", "door", "--seconds", "3", "--max-templates", "3")
    assert code == 0, err
    assert "with 3 template(s)" in out and templates(cfg) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--video", "x.webm", "photo.jpg"], "exactly one of them"),
        ([], "exactly one of them"),
        (["--video", "missing.webm"], "--video missing.webm: not found"),
        (["--camera", "nope"], "--camera 'nope': no such camera"),
        (["--video", "x.webm", "--frames", "9-3"], "--frames '9-3'"),
        (["--video", "x.webm", "--max-templates", "0"], "--max-templates must be >= 1"),
    ],
)
def test_bad_arguments_name_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "x.webm").write_bytes(b"")
    argv = [a if a not in ("x.webm", "photo.jpg") else str(tmp_path / a) for a in argv]
    if "photo.jpg" in " ".join(argv):
        (tmp_path / "photo.jpg").write_bytes(b"")
    cfg = config(tmp_path)
    code, _, err = run(cfg, capsys, *argv)
    assert code == 2
    assert message in err.replace(str(tmp_path) + "/", ""), err
