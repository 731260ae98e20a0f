"""IouTracker on its own: which box continues which track, when a new track starts, when one
ends, and the per-track state (votes, quality, snapshot) that the pipeline keeps on it."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.attendance.tracker import Box, IouTracker, Track, iou_matrix
from sputnik_edge.config import AttendanceSection
from sputnik_edge.recognition.types import MatchResult


def iou(a: Box, b: Box) -> float:
    return float(iou_matrix(np.array([a], np.float32), np.array([b], np.float32))[0, 0])


def shifted(box: Box, dx: float) -> Box:
    x1, y1, x2, y2 = box
    return (x1 + dx, y1, x2 + dx, y2)


FACE: Box = (100.0, 100.0, 200.0, 200.0)


# ---- iou_matrix ------------------------------------------------------------------------------------


def test_iou_matrix_values_and_shapes() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 110]], np.float32)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3) and m.dtype == np.float32
    assert m[0, 0] == pytest.approx(1.0)
    assert m[0, 1] == pytest.approx(50 / 150)  # half overlap: 50 shared of 150 covered
    assert m[1, 0] == 0.0 and m[0, 2] == 0.0
    np.testing.assert_allclose(iou_matrix(b, a), m.T)  # symmetric
    assert iou_matrix(a, np.zeros((0, 4), np.float32)).shape == (2, 0)
    assert iou_matrix(np.zeros((0, 4), np.float32), b).shape == (0, 3)
    # A degenerate (zero-area) box overlaps nothing, without a division by zero.
    point = np.array([[5, 5, 5, 5]], np.float32)
    assert iou_matrix(point, point)[0, 0] == 0.0


# ---- association -------------------------------------------------------------------------------------


def test_a_moving_face_keeps_its_track_and_the_track_follows_the_box() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    (first,), ended = tr.update([FACE], 10.0)
    assert ended == []
    assert (first.track_id, first.hits, first.first_seen, first.last_seen) == (1, 1, 10.0, 10.0)
    box = FACE
    for i in range(1, 9):  # 10 px per frame: IoU 0.82 with the previous position
        box = shifted(box, 10)
        (same,), ended = tr.update([box], 10.0 + i * 0.1)
        assert same is first and ended == []
    assert first.bbox == box  # compared with the latest position, not the first
    assert iou(FACE, box) < 0.3  # it moved further than one step could have
    assert first.hits == 9 and first.first_seen == 10.0 and first.last_seen == pytest.approx(10.8)
    assert tr.tracks == [first]


def test_a_disjoint_box_starts_a_new_track_with_a_fresh_state() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    (old,), _ = tr.update([FACE], 0.0)
    old.observations.append(MatchResult("match", "ann", "Ann", 0.7, 0.3))
    old.embeds, old.best_quality, old.decided = 3, 0.8, True
    far = shifted(FACE, 500)
    (same, new), _ = tr.update([FACE, far], 0.1)
    assert same is old
    assert new is not old and new.track_id == 2 and new.bbox == far
    # Nothing of the person already decided carries over to the newcomer.
    assert new.observations == [] and not new.votes()
    assert (new.hits, new.embeds, new.decided, new.snapshot) == (1, 0, False, None)
    assert new.best_quality < 0 and new.snapshot_quality < 0  # any real face scores better
    assert (new.first_seen, new.last_seen, new.first_frame_mono) == (0.1, 0.1, 0.1)
    assert tr.tracks == [old, new]


def test_iou_threshold_is_inclusive() -> None:
    tr = IouTracker(iou_threshold=0.5, max_age_s=1.5)
    (t,), _ = tr.update([(0.0, 0.0, 30.0, 10.0)], 0.0)
    # Shifted by 10 of 30: 20 shared of 40 covered = exactly 0.5.
    (same,), _ = tr.update([(10.0, 0.0, 40.0, 10.0)], 0.1)
    assert same is t
    # Then by 11 of 30: 19 of 41 < 0.5, a new track.
    (other,), _ = tr.update([(21.0, 0.0, 51.0, 10.0)], 0.2)
    assert other is not t and other.track_id == 2


def test_best_overlap_wins_over_box_order_and_each_track_takes_one_box() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    (a, b), _ = tr.update([(0.0, 0.0, 10.0, 10.0), (3.0, 0.0, 13.0, 10.0)], 0.0)
    x, y = (2.0, 0.0, 12.0, 10.0), (-3.0, 0.0, 7.0, 10.0)
    # x is the best box for both tracks (a: 0.67, b: 0.82); y fits only a (0.54; b: 0.25).
    assert iou(a.bbox, x) > iou(a.bbox, y) > 0.3 > iou(b.bbox, y)
    assert iou(b.bbox, x) > iou(a.bbox, x)
    # Taking the tracks in order would give x to a and leave y without a track.
    (for_y, for_x), _ = tr.update([y, x], 0.1)
    assert for_x is b and for_y is a
    assert len(tr.tracks) == 2

    # Two boxes on one track: the closer one continues it, the other becomes a new track.
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    (t,), _ = tr.update([FACE], 0.0)
    (near, nearer), _ = tr.update([shifted(FACE, 30), shifted(FACE, 5)], 0.1)
    assert nearer is t and near is not t and near.track_id == 2


def test_no_boxes_keeps_tracks_until_they_age_out() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    (t,), _ = tr.update([FACE], 0.0)
    assert tr.update([], 1.0) == ([], [])
    assert tr.update([], 1.5) == ([], [])  # exactly max_age: not yet
    assert tr.tracks == [t] and t.hits == 1  # an empty frame is no hit
    tracks, ended = tr.update([], 1.51)
    assert tracks == [] and ended == [t] and tr.tracks == []
    assert tr.update([], 5.0) == ([], [])  # ended once only


def test_a_track_ends_after_max_age_while_others_go_on() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.0)
    (leaving, staying), _ = tr.update([FACE, shifted(FACE, 500)], 0.0)
    box = staying.bbox
    for i in range(1, 12):
        box = shifted(box, 2)
        (t,), ended = tr.update([box], i * 0.1)
        assert t is staying
        # The one not seen since 0.0 ends at the first update more than 1.0 s later.
        assert ended == ([leaving] if i == 11 else [])
    assert tr.tracks == [staying]
    # Seen again where it was, it is someone new: the old track does not come back.
    (back, _), _ = tr.update([FACE, shifted(box, 2)], 1.2)
    assert back is not leaving and back.track_id == 3


def test_flush_ends_every_track() -> None:
    tr = IouTracker()
    tracks, _ = tr.update([FACE, shifted(FACE, 500)], 0.0)
    assert tr.flush() == tracks
    assert tr.tracks == [] and tr.flush() == []
    (t,), _ = tr.update([FACE], 0.1)
    assert t.track_id == 3  # ids are never reused


# ---- per-track state -------------------------------------------------------------------------------


def test_votes_count_only_matches_naming_someone() -> None:
    t = Track(1, FACE, 0.0, 0.0)
    assert t.votes() == Counter()
    t.observations += [
        MatchResult("match", "ann", "Ann", 0.7, 0.3),
        MatchResult("match", "ann", "Ann", 0.6, 0.2),
        MatchResult("match", "bob", "Bob", 0.65, 0.1),
        MatchResult("low_confidence", "ann", "Ann", 0.5, 0.1),  # names a candidate, but no vote
        MatchResult("unknown", None, None, 0.2, 0.0),
        MatchResult("match", None, None, 0.9, 0.5),  # a match without an id cannot vote
    ]
    assert t.votes() == Counter({"ann": 2, "bob": 1})
    assert t.votes().most_common(1) == [("ann", 2)]


def test_state_kept_on_a_track_survives_association() -> None:
    """The pipeline stores observations, embed count, best quality and the best crop on the track
    object; the tracker hands back the same object for the same face, so they accumulate."""
    tr = IouTracker(iou_threshold=0.3, max_age_s=1.5)
    box = FACE
    qualities = [0.4, 0.9, 0.6]
    for i, q in enumerate(qualities):
        (t,), _ = tr.update([box], i * 0.1)
        t.observations.append(MatchResult("match", "ann", "Ann", 0.7, 0.3))
        t.embeds += 1
        t.best_quality = max(t.best_quality, q)
        if q > t.snapshot_quality:
            t.snapshot, t.snapshot_quality = np.full((2, 2, 3), i, np.uint8), q
        box = shifted(box, 5)
    (t,) = tr.tracks
    assert t.votes() == Counter({"ann": 3}) and t.embeds == 3 and t.hits == 3
    assert t.best_quality == 0.9 and t.snapshot_quality == 0.9
    assert t.snapshot is not None and int(t.snapshot[0, 0, 0]) == 1  # the crop of the best frame


# ---- real motion ---------------------------------------------------------------------------------


def test_real_face_boxes_of_the_dev_clip(faces_dir: Path) -> None:
    """Per-frame boxes of the performer (frames 0-210; another library's detections) at the clip's
    29.97 fps, with the daemon's default tracker settings."""
    cfg = AttendanceSection()
    tr = IouTracker(cfg.track_iou, cfg.track_max_age_s)
    with (faces_dir / "video_faces_auto.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["frame"]) <= 210]
    frames_of: dict[int, list[int]] = {}
    ended_at: dict[int, int] = {}
    for r in rows:
        frame = int(r["frame"])
        box = (float(r["left"]), float(r["top"]), float(r["right"]), float(r["bottom"]))
        (t,), ended = tr.update([box], frame / 29.97)
        frames_of.setdefault(t.track_id, []).append(frame)
        for e in ended:
            ended_at[e.track_id] = frame
    spans = {tid: (f[0], f[-1], len(f)) for tid, f in frames_of.items()}
    # The wide shot (0-19, frame 1 missing), the medium shot until the detector loses him
    # (116-119), and the medium shot after it: he reappears 40 px higher, IoU 0.28 < 0.3.
    assert spans == {1: (0, 19, 19), 2: (82, 115, 34), 3: (120, 210, 91)}
    # The wide shot's track ends at the cut (2 s unseen); the second one only once it is more
    # than 1.5 s old (frame 160), since the box it lost is followed by another track meanwhile.
    assert ended_at == {1: 82, 2: 160}
    assert [t.track_id for t in tr.tracks] == [3]
