"""CLI acceptance on the real dev faces: enrol, identify, bad input, enroll-dir, employees.

Commands run in-process through ``sputnik_edge.cli.main``; the recogniser is loaded once for the
module (``Recognizer.from_config`` is memoised), everything else (config, SQLite, image decoding,
detection, embedding, matching) is real. Two tests run the console script for true exit codes.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.cli import main
from sputnik_edge.config import load_config
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.snapshots import save_snapshot
from tests.conftest import clear_config_env, require

MATCH_THRESHOLD = 0.55  # the contract default; the test configs do not change it
FACE_KEYS = {
    "bbox",
    "landmarks",
    "det_score",
    "quality",
    "decision",
    "employee_id",
    "name",
    "similarity",
    "margin",
}


def display_name(identity: str) -> str:
    return identity.replace("_", " ").title()


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def shared_recognizer(models_dir: Path) -> Iterator[None]:
    """Load the models once for the whole module; every command still builds its own gallery."""
    require(any(models_dir.glob("*.onnx")), f"no ONNX models in {models_dir}")
    original = Recognizer.from_config.__func__  # type: ignore[attr-defined]
    cache: dict[str, Recognizer] = {}

    def cached(cls: type[Recognizer], cfg: Any, gallery: Any = None) -> Recognizer:
        key = cfg.model_dump_json()
        if key not in cache:
            cache[key] = original(cls, cfg)
        rec = cache[key]
        if gallery is not None:
            rec.set_gallery(gallery)
        return rec

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Recognizer, "from_config", classmethod(cached))
        yield


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


def make_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'[storage]\ndatabase = "{folder}/state/edge.db"\nsnapshots_dir = "{folder}/state/snapshots"\n'
    )
    return path


@dataclass
class Site:
    """A config in a temporary folder and helpers to run commands against it."""

    config: Path

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main([argv[0], "--config", str(self.config), "-q", *argv[1:]])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def counts(self) -> tuple[int, int]:
        store = LocalStore(load_config(self.config).storage.database)
        try:
            return len(store.list_employees()), store.template_count()
        finally:
            store.close()

    def store(self) -> LocalStore:
        return LocalStore(load_config(self.config).storage.database)


@pytest.fixture(scope="module")
def enrolment_photos(face_labels: list[tuple[Path, str]]) -> dict[str, Path]:
    """The first photo listed in labels.csv for each identity."""
    first: dict[str, Path] = {}
    for path, identity in face_labels:
        first.setdefault(identity, path)
    return first


@pytest.fixture(scope="module")
def enrolled_site(tmp_path_factory: pytest.TempPathFactory, enrolment_photos: dict[str, Path]) -> Site:
    """All six dev identities enrolled from one photo each (read-only for the tests using it)."""
    site = Site(make_config(tmp_path_factory.mktemp("enrolled")))
    for identity, photo in enrolment_photos.items():
        code = main(
            [
                "enroll",
                "--config",
                str(site.config),
                "--employee-id",
                identity,
                "--name",
                display_name(identity),
                str(photo),
            ]
        )
        assert code == 0, f"enrolling {identity} from {photo} failed"
    return site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(make_config(tmp_path / "site"))


def enroll(site: Site, capsys: pytest.CaptureFixture[str], identity: str, *photos: Path) -> None:
    code, out, err = site.run(
        capsys,
        "enroll",
        "--employee-id",
        identity,
        "--name",
        display_name(identity),
        *map(str, photos),
    )
    assert code == 0, err
    assert identity in out


def identify_json(site: Site, capsys: pytest.CaptureFixture[str], *paths: Path | str) -> tuple[int, list]:
    code, out, _ = site.run(capsys, "identify", "--json", *map(str, paths))
    return code, json.loads(out)


# ---- acceptance: identify the dev set -------------------------------------------------------------


def test_identify_every_other_dev_photo(
    enrolled_site: Site,
    face_labels: list[tuple[Path, str]],
    enrolment_photos: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert enrolled_site.counts() == (len(enrolment_photos), len(enrolment_photos))
    probes = [(p, ident) for p, ident in face_labels if p != enrolment_photos[ident]]
    assert len(probes) >= 15
    code, results = identify_json(enrolled_site, capsys, *(p for p, _ in probes))
    assert code == 0
    assert [r["image"] for r in results] == [str(p) for p, _ in probes]
    for (path, identity), res in zip(probes, results, strict=True):
        assert res["error"] is None, res["error"]
        faces = res["faces"]
        assert faces, f"{path.name}: no face detected"
        wrong = [f["employee_id"] for f in faces if f["employee_id"] not in (None, identity)]
        assert not wrong, f"{path.name} ({identity}) matched to {wrong}"
        if path.name.startswith("obama_partial_face"):
            assert all(f["decision"] == "rejected" for f in faces), path.name
            assert all(f["quality"]["reasons"] for f in faces), path.name
            assert all(f["employee_id"] is None for f in faces)
            continue
        hits = [f for f in faces if f["decision"] == "match" and f["employee_id"] == identity]
        assert len(hits) == 1, f"{path.name}: expected one match for {identity}, got {faces}"
        hit = hits[0]
        assert hit["name"] == display_name(identity)
        assert MATCH_THRESHOLD <= hit["similarity"] <= 1.0001
        assert hit["margin"] > 0


def test_multi_face_images_yield_every_labelled_person(
    enrolled_site: Site, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (faces_dir / "multi_face.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = {
        str(faces_dir / r["path"]): {i for i in r["identities"].split(";") if not i.startswith("+")}
        for r in rows
    }
    code, results = identify_json(enrolled_site, capsys, *expected)
    assert code == 0
    assert [r["image"] for r in results] == list(expected) and len(results) == 3
    for res in results:
        labelled = expected[res["image"]]
        matched = {f["employee_id"] for f in res["faces"] if f["decision"] == "match"}
        assert matched == labelled, res["image"]
        named = {f["employee_id"] for f in res["faces"]} - {None}
        assert named <= labelled, f"{res['image']}: someone not in the photo was named: {named - labelled}"
        assert len(res["faces"]) >= len(labelled)


def test_identify_json_shape_and_unreadable_image(
    enrolled_site: Site,
    enrolment_photos: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good_a = enrolment_photos["joe_biden"]
    good_b = enrolment_photos["kit_harington"]
    broken = tmp_path / "broken.jpg"
    broken.write_text("not really a jpeg")
    missing = tmp_path / "missing.jpg"
    code, results = identify_json(enrolled_site, capsys, good_a, broken, missing, good_b)
    assert code == 2
    assert [r["image"] for r in results] == [str(good_a), str(broken), str(missing), str(good_b)]
    for r in results:
        assert set(r) == {"image", "faces", "error"}
    assert results[1]["faces"] == [] and str(broken) in results[1]["error"]
    assert results[2]["faces"] == [] and str(missing) in results[2]["error"]
    for r, identity in ((results[0], "joe_biden"), (results[3], "kit_harington")):
        assert r["error"] is None
        (face,) = r["faces"]
        assert set(face) == FACE_KEYS
        x1, y1, x2, y2 = face["bbox"]
        assert x2 > x1 and y2 > y1
        assert len(face["landmarks"]) == 5
        assert all(len(pt) == 2 for pt in face["landmarks"])
        assert all(x1 - 5 <= x <= x2 + 5 and y1 - 5 <= y <= y2 + 5 for x, y in face["landmarks"])
        assert 0 < face["det_score"] <= 1
        assert face["quality"]["ok"] is True
        assert face["quality"]["reasons"] == []
        assert face["decision"] == "match"
        assert face["employee_id"] == identity
        # The enrolment photo itself: its float template against its int8 probe (README "Models").
        assert 0.9 <= face["similarity"] <= 1.0001


def test_identify_text_output_and_errors_on_stderr(
    enrolled_site: Site, enrolment_photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.png"
    code, out, err = enrolled_site.run(capsys, "identify", str(enrolment_photos["rose_leslie"]), str(missing))
    assert code == 2
    assert "match rose_leslie" in out
    assert str(missing) in err
    assert len(err.strip().splitlines()) == 1


def test_identify_with_empty_gallery_names_no_one(
    site: Site, enrolment_photos: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, results = identify_json(site, capsys, enrolment_photos["barack_obama"])
    assert code == 0
    (face,) = results[0]["faces"]
    assert face["decision"] == "unknown"
    assert face["employee_id"] is None


# ---- bad input: exit 2, one line, nothing written -------------------------------------------------


@pytest.fixture
def seeded_site(site: Site, enrolment_photos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> Site:
    enroll(site, capsys, "rose_leslie", enrolment_photos["rose_leslie"])
    assert site.counts() == (1, 1)
    return site


def gradient(path: Path) -> Path:
    y, x = np.mgrid[0:300, 0:320]
    img = np.stack([x * 255 // 320, y * 255 // 300, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


def bad_input(kind: str, tmp_path: Path, faces_dir: Path) -> tuple[Path, list[str]]:
    """A bad enrolment photo and words the error message must contain."""
    if kind == "missing":
        p = tmp_path / "no-such-photo.jpg"
        return p, [str(p), "not found"]
    if kind == "text":
        p = tmp_path / "notes.jpg"
        p.write_text("meeting notes, not a face\n")
        return p, [str(p), "not an image"]
    if kind == "truncated":
        data = (faces_dir / "images" / "joe_biden" / "biden.jpg").read_bytes()
        p = tmp_path / "half.jpg"
        p.write_bytes(data[: len(data) // 2])
        return p, [str(p), "JPEG"]
    if kind == "tiny":
        p = tmp_path / "tiny.png"
        Image.new("RGB", (1, 1), (120, 90, 60)).save(p)
        return p, [str(p), "1x1"]
    if kind == "no_face":
        return gradient(tmp_path / "gradient.png"), ["gradient.png", "no face"]
    if kind == "several_faces":
        p = faces_dir / "multi_face" / "two_people.jpg"
        return p, [str(p), "2 faces"]
    if kind == "partial_face":
        p = faces_dir / "images" / "barack_obama" / "obama_partial_face.jpg"
        return p, [str(p), "partial_face"]
    raise AssertionError(kind)


BAD_KINDS = ["missing", "text", "truncated", "tiny", "no_face", "several_faces", "partial_face"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_enroll_bad_input_exits_2_and_writes_nothing(
    kind: str, seeded_site: Site, tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo, words = bad_input(kind, tmp_path, faces_dir)
    code, out, err = seeded_site.run(
        capsys, "enroll", "--employee-id", "newcomer", "--name", "New Comer", str(photo)
    )
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    assert seeded_site.counts() == (1, 1)


@pytest.mark.parametrize("kind", ["truncated", "no_face", "several_faces"])
def test_enroll_good_then_bad_photo_writes_nothing(
    kind: str,
    seeded_site: Site,
    enrolment_photos: dict[str, Path],
    tmp_path: Path,
    faces_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo, words = bad_input(kind, tmp_path, faces_dir)
    good = enrolment_photos["barack_obama"]
    for employee_id in ("barack_obama", "rose_leslie"):  # a new and an existing employee
        code, _, err = seeded_site.run(
            capsys, "enroll", "--employee-id", employee_id, "--name", "X", str(good), str(photo)
        )
        assert code == 2
        assert words[0] in err
        assert seeded_site.counts() == (1, 1)
    store = seeded_site.store()
    try:
        assert store.get_employee("rose_leslie").full_name == "Rose Leslie"
    finally:
        store.close()


@pytest.mark.parametrize("action", ["deactivate", "delete"])
def test_employees_unknown_id_exits_2(
    action: str, seeded_site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = seeded_site.run(capsys, "employees", action, "no-such-person")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "no-such-person" in err
    assert seeded_site.counts() == (1, 1)


def test_enroll_bad_employee_id(
    seeded_site: Site, enrolment_photos: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = seeded_site.run(
        capsys, "enroll", "--employee-id", "has space", "--name", "X", str(enrolment_photos["joe_biden"])
    )
    assert code == 2
    assert "has space" in err
    assert seeded_site.counts() == (1, 1)


def test_unusable_database_file_exits_2_naming_it(
    tmp_path: Path, enrolment_photos: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    site = Site(make_config(tmp_path / "corrupt"))
    db = load_config(site.config).storage.database
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x07garbage, not SQLite\x00" * 400)
    for argv in (["employees", "list"], ["identify", str(enrolment_photos["joe_biden"])]):
        code, out, err = site.run(capsys, *argv)
        assert code == 2
        assert out == ""
        assert str(db) in err
        assert len(err.strip().splitlines()) == 1


# ---- enroll-dir -----------------------------------------------------------------------------------


def test_enroll_dir_with_symlinks_people_csv_and_a_reject(
    site: Site,
    face_labels: list[tuple[Path, str]],
    faces_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "staff"
    by_person: dict[str, list[Path]] = {}
    for path, identity in face_labels:
        # biden2.jpg shows bystanders: enrolment would (rightly) refuse it
        if not path.name.startswith("obama_partial_face") and path.name != "biden2.jpg":
            by_person.setdefault(identity, []).append(path)
    people = {"joe_biden": "Joseph R. Biden", "kit_harington": "Kit Harington", "rose_leslie": "Rose Leslie"}
    for identity in people:
        folder = root / identity
        folder.mkdir(parents=True)
        for i, src in enumerate(by_person[identity][:2]):
            os.symlink(src, folder / f"{i}{src.suffix}")
    bad = faces_dir / "images" / "barack_obama" / "obama_partial_face.jpg"
    os.symlink(bad, root / "kit_harington" / "cut_off.jpg")
    (root / "nobody").mkdir()
    os.symlink(faces_dir / "multi_face" / "two_people.jpg", root / "nobody" / "group.jpg")
    with (root / "people.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["employee_id", "full_name", "department"])
        for identity, name in people.items():
            w.writerow([identity, name, "Cast"])
    assert all(p.is_symlink() for p in root.rglob("*.jp*g"))

    code, out, _ = site.run(capsys, "enroll-dir", str(root))
    assert code == 0
    assert "enrolled 3 employee(s)" in out
    assert "2 photo(s) rejected" in out
    reject_lines = [line for line in out.splitlines() if "rejected:" in line]
    assert any("cut_off.jpg" in line and "partial_face" in line for line in reject_lines), out
    assert any("group.jpg" in line and "faces" in line for line in reject_lines), out
    assert "not enrolled: nobody" in out

    code, out, _ = site.run(capsys, "employees", "list", "--json")
    assert code == 0
    listed = {e["employee_id"]: e for e in json.loads(out)}
    assert set(listed) == set(people)
    for identity, name in people.items():
        assert listed[identity]["full_name"] == name
        assert listed[identity]["department"] == "Cast"
        assert listed[identity]["templates"] == len(by_person[identity][:2])
        assert listed[identity]["is_active"] is True


def test_enroll_dir_not_a_directory(site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = site.run(capsys, "enroll-dir", str(tmp_path / "absent"))
    assert code == 2
    assert str(tmp_path / "absent") in err


# ---- employees list / deactivate / delete ---------------------------------------------------------


def test_deactivate_and_delete(
    site: Site,
    face_labels: list[tuple[Path, str]],
    enrolment_photos: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    enroll(site, capsys, "barack_obama", enrolment_photos["barack_obama"])
    enroll(site, capsys, "joe_biden", enrolment_photos["joe_biden"])
    obama_probe = next(p for p, i in face_labels if i == "barack_obama" and p.name == "obama2.jpg")
    biden_probe = next(p for p, i in face_labels if i == "joe_biden" and p != enrolment_photos["joe_biden"])

    _, res = identify_json(site, capsys, obama_probe)
    assert [f["employee_id"] for f in res[0]["faces"]] == ["barack_obama"]

    code, out, _ = site.run(capsys, "employees", "deactivate", "barack_obama")
    assert code == 0
    code, out, _ = site.run(capsys, "employees", "list")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("barack_obama"))
    assert "inactive" in line
    _, res = identify_json(site, capsys, obama_probe)
    assert [(f["decision"], f["employee_id"]) for f in res[0]["faces"]] == [("unknown", None)]
    assert site.counts() == (2, 2)  # deactivation keeps the templates

    # Delete erases templates, events and the event snapshots (right to erasure).
    snaps_dir = load_config(site.config).storage.snapshots_dir
    store = site.store()
    try:
        ev = AttendanceEvent(
            "ev-1", "door-1", "entrance", "check_in", "joe_biden", "Joe Biden", 0.8, datetime.now(UTC)
        )
        rel = save_snapshot(snaps_dir, ev.event_id, np.zeros((64, 64, 3), np.uint8))
        assert rel is not None
        store.record_event(ev, snapshot=rel)
    finally:
        store.close()
    code, out, _ = site.run(capsys, "employees", "delete", "joe_biden")
    assert code == 0
    assert "1 snapshot(s) removed" in out
    assert not (snaps_dir / rel).exists()
    store = site.store()
    try:
        assert store.get_employee("joe_biden") is None
        assert store.template_count() == 1
        assert store.count_events() == 0
    finally:
        store.close()
    _, res = identify_json(site, capsys, biden_probe)
    faces = res[0]["faces"]
    assert faces and all(f["employee_id"] != "joe_biden" for f in faces), faces

    code, out, _ = site.run(capsys, "employees", "list", "--json")
    assert [e["employee_id"] for e in json.loads(out)] == ["barack_obama"]


# ---- the console script ---------------------------------------------------------------------------


def console(*argv: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "sputnik-edge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sputnik_edge"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPUTNIK_") or k == "SPUTNIK_FACES_DIR"}
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, env=env, timeout=120)


def test_console_script_identify_exit_codes(enrolled_site: Site, enrolment_photos: dict[str, Path]) -> None:
    good = str(enrolment_photos["lin_manuel_miranda"])
    ok = console("identify", "--json", "--config", str(enrolled_site.config), good)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["faces"][0]["employee_id"] == "lin_manuel_miranda"
    bad = console("identify", "--json", "--config", str(enrolled_site.config), "/nonexistent/x.jpg", good)
    assert bad.returncode == 2
    out = json.loads(bad.stdout)
    assert out[0]["error"] and "/nonexistent/x.jpg" in out[0]["error"]
    assert out[1]["faces"][0]["employee_id"] == "lin_manuel_miranda"


def test_console_script_enroll_bad_photo(site: Site, tmp_path: Path) -> None:
    text = tmp_path / "x.jpg"
    text.write_text("hello")
    proc = console("enroll", "--config", str(site.config), "--employee-id", "a", "--name", "A", str(text))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(text) in proc.stderr
