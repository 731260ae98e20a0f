"""`sputnik-edge liveness-eval`: the real pipeline on video files or photos, scored the ISO/IEC
30107-3 way.

Each file goes through what the daemon runs on a camera: YuNet detection, the quality gate, the
IoU tracker, and the liveness stage on every quality-passing face of an undecided track (videos
are sampled every ``step``-th frame, 3 by default: a 30 fps file at the daemon's 10 fps). A file's
verdict is ``spoof`` if any track of it was judged spoof, else ``live`` if any was judged live,
else ``undecided``. A photo is one frame: no cue can judge it (the border cue needs the face to
move to tell a held border from a door frame), so it is ``undecided``, never ``live``.

* APCER (attack presentation classification error rate): attacks judged ``live`` / attacks.
* BPCER (bona fide presentation classification error rate): live files judged ``spoof`` / live.
* ``undecided`` is counted apart, per class: under ``enforce`` an undecided live person is also
  refused (``bpcer_enforce`` counts both), an undecided attack is refused as well.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.liveness.stage import LivenessStage
from sputnik_edge.liveness.state import TrackLiveness
from sputnik_edge.liveness.types import LivenessSettings, LivenessVerdict
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.types import ImageArray

__all__ = ["EvalFileError", "FileResult", "evaluate", "evaluate_file", "summarise"]

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
MIN_TRACK_FRAMES = 3  # a track seen less than this is a passing glimpse, not a presentation


class EvalFileError(ValueError):
    """A file that cannot be read as a video or a photo."""


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    label: str  # live | attack
    verdict: str  # live | spoof | undecided
    score: float
    cues: tuple[str, ...]
    frames: int  # frames the deciding track was analysed for (the longest track when undecided)
    tracks: int

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "label": self.label,
            "verdict": self.verdict,
            "score": round(self.score, 3),
            "cues": list(self.cues),
            "frames": self.frames,
            "tracks": self.tracks,
        }


def _video_frames(path: Path, step: int) -> Iterator[ImageArray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise EvalFileError(f"{path}: not a readable video or photo")
    n = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if n % step == 0:
                yield np.ascontiguousarray(img)
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise EvalFileError(f"{path}: no frames could be decoded")


def _combine(verdicts: Sequence[LivenessVerdict]) -> LivenessVerdict:
    for kind in ("spoof", "live"):
        hits = [v for v in verdicts if v.verdict == kind]
        if hits:
            return max(hits, key=lambda v: abs(v.score - 0.5))
    return LivenessVerdict("undecided", 0.5, (), max((v.frames for v in verdicts), default=0))


def evaluate_file(rec: Recognizer, stage: LivenessStage, path: Path, label: str, step: int = 3) -> FileResult:
    if path.suffix.lower() in PHOTO_SUFFIXES:
        try:
            image = load_image(path)
        except Exception as exc:  # any decoder error names the file
            raise EvalFileError(f"{path}: {exc}") from None
        single = dataclasses.replace(stage.settings, border_frames=1, border_fraction=0.0)
        verdicts = []
        for cand in rec.analyze(image):
            if cand.quality.ok or cand.detection.score >= rec.limits.min_det_score:
                state = TrackLiveness(single)
                mesh = stage.landmarker.mesh(image, cand.detection)
                grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
                verdicts.append(state.update(mesh.points, grey, cand.detection.bbox))
        v = _combine(verdicts)
        return FileResult(str(path), label, v.verdict, v.score, v.cues, v.frames, len(verdicts))
    if not path.is_file():
        raise EvalFileError(f"{path}: no such file")
    tracker = IouTracker()
    camera = f"eval:{path}"
    seen: dict[int, int] = {}
    final: list[LivenessVerdict] = []
    mono = 0.0
    for image in _video_frames(path, step):
        mono += step / 30.0
        cands = rec.analyze(image)
        tracks, ended = tracker.update([c.detection.bbox for c in cands], mono)
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
        for cand, track in zip(cands, tracks, strict=True):
            if cand.quality.ok:
                stage.observe(camera, track.track_id, image, cand.detection, grey)
                seen[track.track_id] = seen.get(track.track_id, 0) + 1
        final += [
            stage.forget(camera, t.track_id) for t in ended if seen.get(t.track_id, 0) >= MIN_TRACK_FRAMES
        ]
    final += [
        stage.forget(camera, t.track_id)
        for t in tracker.flush()
        if seen.get(t.track_id, 0) >= MIN_TRACK_FRAMES
    ]
    v = _combine(final)
    return FileResult(str(path), label, v.verdict, v.score, v.cues, v.frames, len(final))


def evaluate(
    rec: Recognizer,
    stage: LivenessStage,
    live: Iterable[Path],
    attack: Iterable[Path],
    step: int = 3,
) -> list[FileResult]:
    out = [evaluate_file(rec, stage, p, "live", step) for p in live]
    return out + [evaluate_file(rec, stage, p, "attack", step) for p in attack]


def _rate(n: int, d: int) -> float | None:
    return None if d == 0 else round(n / d, 4)


def summarise(results: Sequence[FileResult]) -> dict[str, object]:
    live = [r for r in results if r.label == "live"]
    attack = [r for r in results if r.label == "attack"]
    live_refused = sum(r.verdict == "spoof" for r in live)
    live_undecided = sum(r.verdict == "undecided" for r in live)
    attack_accepted = sum(r.verdict == "live" for r in attack)
    attack_undecided = sum(r.verdict == "undecided" for r in attack)
    total = {
        "live_files": len(live),
        "attack_files": len(attack),
        "apcer": _rate(attack_accepted, len(attack)),
        "bpcer": _rate(live_refused, len(live)),
        "bpcer_enforce": _rate(live_refused + live_undecided, len(live)),
        "undecided": {
            "live": live_undecided,
            "attack": attack_undecided,
            "live_rate": _rate(live_undecided, len(live)),
            "attack_rate": _rate(attack_undecided, len(attack)),
        },
        "attacks_detected": sum(r.verdict == "spoof" for r in attack),
    }
    return {"total": total, "files": [r.as_dict() for r in results]}


def format_text(summary: dict[str, object]) -> str:
    files = summary["files"]
    total = summary["total"]
    assert isinstance(files, list) and isinstance(total, dict)
    lines = [f"{'label':<7} {'verdict':<10} {'score':>5}  {'cues':<16} {'frames':>6}  file"]
    for f in files:
        cues = ",".join(f["cues"]) or "-"
        lines.append(
            f"{f['label']:<7} {f['verdict']:<10} {f['score']:>5.2f}  {cues:<16} {f['frames']:>6}  {f['path']}"
        )
    und = total["undecided"]
    lines.append(
        f"APCER {_pct(total['apcer'])} (attacks judged live, of {total['attack_files']}); "
        f"BPCER {_pct(total['bpcer'])} (live judged spoof, of {total['live_files']}); "
        f"undecided: {und['live']} live, {und['attack']} attack; "
        f"refused under enforce: {_pct(total['bpcer_enforce'])} of live"
    )
    return "\n".join(lines)


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def default_settings(cues: Sequence[str] | None = None) -> LivenessSettings:
    base = LivenessSettings()
    return base if cues is None else dataclasses.replace(base, cues=tuple(cues))
