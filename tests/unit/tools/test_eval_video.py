"""`eval-video` on the real dev clip and webcam clip: per-frame right / wrong / nobody and the
daemon engine's check-ins, with the committed label files; a gallery that names the wrong person
is caught by both; bad label files are refused naming file, line and column."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.cli import main
from sputnik_edge.config import AttendanceSection
from sputnik_edge.liveness.stage import LivenessStage
from sputnik_edge.liveness.types import LivenessSettings
from sputnik_edge.recognition.gallery import Gallery
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.eval_video import (
    LabelError,
    LabelRange,
    evaluate_video,
    judge_frame,
    label_at,
    read_labels,
)
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.models import verify
from tests.conftest import REPO_ROOT, clear_config_env, require
from tests.support.daemon import enrol_people, first_photo_per_person, shared_recognizer

LABELS = REPO_ROOT / "docs" / "eval"
CLIP = "video/short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def clip(faces_dir: Path) -> Path:
    path = faces_dir / CLIP
    require(path.is_file(), f"dev clip not found at {path}")
    return path


def recognizer(faces_dir: Path, names: dict[str, str] | None = None) -> Recognizer:
    """The shared models with the dev people enrolled; ``names`` relabels enrolment photos."""
    models = shared_recognizer()
    rec = Recognizer(
        models.detector, models.embedder, models.limits, models.thresholds, None, models.backlight
    )
    people = first_photo_per_person(faces_dir)
    ids = sorted(people)
    vecs = np.stack([rec.enrollment_template(load_image(people[i]), i)[0] for i in ids])
    rec.set_gallery(Gallery.build([(names or {}).get(i, i) for i in ids], vecs, {}))
    return rec


def test_committed_labels_match_the_shared_ones(faces_dir: Path) -> None:
    ours = read_labels(LABELS / "short_hamilton_clip.csv")
    shared = read_labels(faces_dir / "video_labels.csv")  # extra columns are ignored
    assert ours == shared
    assert label_at(ours, 0) == label_at(ours, 210) == "lin_manuel_miranda"
    assert label_at(ours, 50) == "unknown"
    webcam = read_labels(LABELS / "webcam_live.csv")
    assert webcam == [LabelRange(70, 213, "webcam_man")]
    assert label_at(webcam, 69) is None  # his enrolment frames are not evaluated


def test_judge_frame() -> None:
    assert judge_frame(1, "a", {"a"}).outcome == "right"
    assert judge_frame(1, "a", set()).outcome == "nobody"
    assert judge_frame(1, "a", {"a", "b"}).outcome == "wrong"
    assert judge_frame(1, "unknown", {"b"}).outcome == "wrong"


def test_dev_clip_per_frame_and_check_in(faces_dir: Path, clip: Path) -> None:
    result = evaluate_video(recognizer(faces_dir), clip, read_labels(LABELS / "short_hamilton_clip.csv"))
    people = {p.identity: p for p in result.people}
    lin, unknown = people["lin_manuel_miranda"], people["unknown"]
    assert result.frames_evaluated == 55 == lin.frames + unknown.frames
    assert lin.right >= 18 and lin.wrong == 0  # measured 21 of 30; the rest are small or turned
    assert unknown.wrong == 0 and unknown.nobody == unknown.frames
    assert lin.checked_in is True and unknown.checked_in is None
    assert result.wrong_events == []


def test_a_wrong_gallery_shows_up_in_frames_and_events(faces_dir: Path, clip: Path) -> None:
    """His template filed under someone else's id: every match becomes wrong, and so does the check-in."""
    rec = recognizer(faces_dir, {"lin_manuel_miranda": "somebody_else"})
    result = evaluate_video(rec, clip, read_labels(LABELS / "short_hamilton_clip.csv"), every=10)
    lin = next(p for p in result.people if p.identity == "lin_manuel_miranda")
    assert lin.right == 0 and lin.wrong >= 8
    assert lin.checked_in is False
    assert any(e["employee_id"] == "somebody_else" and e["kind"] == "check_in" for e in result.wrong_events)


def test_daemon_part_follows_min_frames(faces_dir: Path, clip: Path) -> None:
    """A vote the clip cannot satisfy checks no one in, while the per-frame numbers stay the same."""
    rec = recognizer(faces_dir)
    labels = read_labels(LABELS / "short_hamilton_clip.csv")
    strict = evaluate_video(
        rec, clip, labels, every=10, att=AttendanceSection(min_frames=100, max_embeds_per_track=1000)
    )
    normal = evaluate_video(rec, clip, labels, every=10)
    assert [p.right for p in strict.people] == [p.right for p in normal.people]
    assert {p.identity: p.checked_in for p in strict.people}["lin_manuel_miranda"] is False


def test_daemon_part_runs_the_configured_liveness(faces_dir: Path, clip: Path, models_dir: Path) -> None:
    """Under ``enforce`` the in-process daemon needs a ``live`` verdict for a check-in, as the real one."""
    rec = recognizer(faces_dir)
    labels = read_labels(LABELS / "short_hamilton_clip.csv")
    model = verify(models_dir, "face_landmark")

    def run(cues: tuple[str, ...]) -> dict[str, bool | None]:
        stage = LivenessStage.from_model(model, dataclasses.replace(LivenessSettings(), cues=cues), 1)
        result = evaluate_video(rec, clip, labels, every=30, liveness_mode="enforce", liveness=stage)
        return {p.identity: p.checked_in for p in result.people}

    # The dev clip's real head turns: parallax says live, he is checked in.
    assert run(("blink", "motion", "border"))["lin_manuel_miranda"] is True
    # The border cue alone can only refuse: his track stays undecided, and enforce refuses him.
    assert run(("border",))["lin_manuel_miranda"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start_frame,identity\n0,a\n", "missing column(s) end_frame"),
        ("start_frame,end_frame,identity\n0,x,a\n", ":2: start_frame and end_frame must be integers"),
        ("start_frame,end_frame,identity\n5,1,a\n", ":2: need 0 <= start_frame <= end_frame"),
        ("start_frame,end_frame,identity\n0,1,\n", ":2: identity is empty"),
        ("start_frame,end_frame,identity\n", "no label rows"),
    ],
)
def test_bad_label_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(LabelError, match=r"labels\.csv") as e:
        read_labels(path)
    assert message in str(e.value)
    with pytest.raises(LabelError, match=r"not found|No such file"):
        read_labels(tmp_path / "missing.csv")


def test_cli_json_and_errors(
    tmp_path: Path,
    faces_dir: Path,
    clip: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_config_env(monkeypatch)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path}/edge.db"\nsnapshots_dir = "{tmp_path}/snap"\n')
    labels = str(LABELS / "short_hamilton_clip.csv")
    base = ["eval-video", "--config", str(cfg), "-q", "--labels", labels]
    assert main([*base, str(clip)]) == 2
    assert "nobody enrolled" in capsys.readouterr().err
    enrol_people(tmp_path / "edge.db", first_photo_per_person(faces_dir))
    assert main([*base, "--every", "10", "--fps", "0", "--json", str(clip)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["video"] == clip.name and data["frames_evaluated"] == 28 and data["wrong"] == 0
    assert data["daemon_fps"] is None and all(p["checked_in"] is None for p in data["people"])
    assert main([*base, "--every", "0", str(clip)]) == 2
    assert "--every must be >= 1" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "nope.mp4")]) == 2
    assert "nope.mp4: not found" in capsys.readouterr().err
