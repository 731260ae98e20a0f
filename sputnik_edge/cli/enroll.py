"""`enroll` and `enroll-dir`: templates from photos (or a clip: ``enroll_video``), refused when the
face is someone else's."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from sputnik_edge.cli.common import EXIT_OK, EXIT_USAGE, IMAGE_SUFFIXES, AddCommand, Ctx, UsageError

log = structlog.get_logger(__name__)


def _read_images(paths: Sequence[str]) -> list[tuple[str, Any]]:
    from sputnik_edge.vision.imageio import ImageError, load_image

    out = []
    for p in paths:
        try:
            out.append((p, load_image(p)))
        except ImageError as exc:
            raise UsageError(str(exc)) from None
    return out


def cmd_enroll(ctx: Ctx) -> int:
    import numpy as np

    from sputnik_edge.recognition.recognizer import EnrollmentError

    args = ctx.args
    _check_employee_id(args.employee_id)
    clip = args.video or args.camera
    if sum(map(bool, (args.images, args.video, args.camera))) != 1:
        raise UsageError("enroll takes photos, or --video FILE, or --camera ID (exactly one of them)")
    if args.max_templates < 1:
        raise UsageError(f"--max-templates must be >= 1, got {args.max_templates}")
    images = _read_images(args.images)
    store = ctx.store()
    rec = ctx.recognizer(store)
    templates, qualities = [], []
    lines: list[str] = []
    if clip:  # every frame is judged before anything is written
        from sputnik_edge.cli import enroll_video

        what = f"--video {args.video}" if args.video else f"--camera {args.camera}"
        selection = enroll_video.select_from(ctx, rec, what)
        templates = [c.embedding for c in selection.chosen]
        qualities = [c.quality for c in selection.chosen]
        lines = enroll_video.report(selection)
    for name, image in images:  # every photo is checked before anything is written
        try:
            vec, q = rec.enrollment_template(image, name)
        except EnrollmentError as exc:
            raise UsageError(str(exc)) from None
        templates.append(vec)
        qualities.append(q.score)
    matrix = np.stack(templates)
    central = ctx.central()
    _refuse_conflicts(ctx, rec, central, args.employee_id, matrix, force=args.force)
    ids = None
    if central is not None:
        ids = _enroll_central(
            central, args.employee_id, args.name, args.department, rec.model_id, matrix, qualities
        )
    store.enroll(
        args.employee_id, args.name, args.department, rec.model_id, matrix, qualities, template_ids=ids
    )
    log.info("employee_enrolled", employee_id=args.employee_id, templates=len(templates))
    where = " (local and central)" if central is not None else ""
    print(f"enrolled {args.employee_id} ({args.name}) with {len(templates)} template(s){where}")
    for line in lines:
        print(line)
    return EXIT_OK


def _refuse_conflicts(
    ctx: Ctx, rec: Any, central: Any, employee_id: str, matrix: Any, *, force: bool
) -> None:
    """A face that already matches someone else above the match threshold is refused unless forced."""
    if force:
        return
    threshold = ctx.settings.recognition.match_threshold
    others: dict[str, float] = {}
    gallery = rec.gallery
    if gallery.n_employees:
        scores = gallery.scores(matrix).max(axis=0)
        for idx, sim in enumerate(scores):
            if sim >= threshold and gallery.employee_ids[idx] != employee_id:
                others[gallery.employee_ids[idx]] = float(sim)
    if central is not None:
        from sputnik_edge.central.errors import CentralError

        try:
            for vec in matrix:
                for other, sim in central.find_conflicts(
                    rec.model_id, vec, threshold, exclude_employee_id=employee_id
                ):
                    others[other] = max(sim, others.get(other, -1.0))
        except CentralError as exc:
            raise UsageError(str(exc)) from None
    if others:
        best = max(others, key=lambda k: others[k])
        raise UsageError(
            f"this face already matches employee {best!r} (similarity {others[best]:.3f} >= "
            f"{threshold}); use --force to enrol anyway"
        )


def _enroll_central(
    central: Any,
    employee_id: str,
    name: str,
    department: str | None,
    model_id: str,
    matrix: Any,
    qualities: list[float],
    photos: list[bytes] | None = None,
) -> list[str]:
    from sputnik_edge.central.errors import CentralError

    try:
        central.upsert_employee(employee_id, name, department)
        return list(central.add_templates(employee_id, model_id, matrix, qualities, photos=photos))
    except CentralError as exc:
        raise UsageError(str(exc)) from None


def _check_employee_id(employee_id: str) -> None:
    if not employee_id or len(employee_id) > 64 or any(c.isspace() for c in employee_id):
        raise UsageError(f"employee id {employee_id!r} must be 1-64 characters without spaces")


def _read_people_csv(path: Path) -> dict[str, tuple[str, str | None]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"employee_id", "full_name"} - set(reader.fieldnames or [])
        if missing:
            raise UsageError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return {
            r["employee_id"].strip(): (r["full_name"].strip(), (r.get("department") or "").strip() or None)
            for r in reader
        }


def cmd_enroll_dir(ctx: Ctx) -> int:
    import numpy as np
    from tqdm import tqdm

    from sputnik_edge.recognition.recognizer import EnrollmentError
    from sputnik_edge.vision.imageio import ImageError, load_image

    root = Path(ctx.args.directory)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    people_csv = root / "people.csv"
    people = _read_people_csv(people_csv) if people_csv.is_file() else {}
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise UsageError(f"{root}: no employee subfolders (one folder per employee id)")
    jobs = [(f, img) for f in folders for img in sorted(f.iterdir()) if img.suffix.lower() in IMAGE_SUFFIXES]
    store = ctx.store()
    rec = ctx.recognizer(store)
    accepted: dict[str, list[Any]] = {}
    rejects: list[tuple[str, str, str]] = []
    with tqdm(total=len(jobs), unit="img", desc="enrolling", disable=ctx.args.quiet, file=sys.stderr) as bar:
        for folder, img in jobs:
            try:
                vec, q = rec.enrollment_template(load_image(img), str(img))
                accepted.setdefault(folder.name, []).append((vec, q.score, img))
            except ImageError as exc:
                rejects.append((str(img), exc.code, str(exc)))
            except EnrollmentError as exc:
                rejects.append((str(img), exc.code, str(exc)))
            bar.update(1)
    central = ctx.central()
    conflicts: list[tuple[str, str]] = []
    for employee_id, items in accepted.items():
        full_name, dept = people.get(employee_id, (employee_id.replace("_", " ").title(), None))
        matrix = np.stack([v for v, _, _ in items])
        qualities = [q for _, q, _ in items]
        try:
            _refuse_conflicts(ctx, rec, central, employee_id, matrix, force=ctx.args.force)
        except UsageError as exc:
            conflicts.append((employee_id, str(exc)))
            continue
        ids = None
        if central is not None:
            photos = [p.read_bytes() for _, _, p in items] if ctx.settings.central.store_photos else None
            ids = _enroll_central(
                central, employee_id, full_name, dept, rec.model_id, matrix, qualities, photos
            )
        store.enroll(employee_id, full_name, dept, rec.model_id, matrix, qualities, template_ids=ids)
    for employee_id, _ in conflicts:
        accepted.pop(employee_id, None)
    empty = [f.name for f in folders if f.name not in accepted]
    print(
        f"enrolled {len(accepted)} employee(s) with {sum(len(v) for v in accepted.values())} template(s); "
        f"{len(rejects)} photo(s) rejected; {len(empty)} folder(s) without a usable photo"
    )
    if rejects:
        print(
            "rejects by reason: " + ", ".join(f"{k}={v}" for k, v in Counter(r[1] for r in rejects).items())
        )
        for _path, _code, msg in rejects:
            print(f"  rejected: {msg}")
    for name in empty:
        print(f"  not enrolled: {name} (no usable photo)")
    for employee_id, reason in conflicts:
        print(f"  not enrolled: {employee_id}: {reason}")
    return EXIT_OK if accepted else EXIT_USAGE


def register(add: AddCommand) -> None:
    p = add("enroll", cmd_enroll, "enrol one employee from photos (one face each), a clip or a camera")
    p.add_argument("--employee-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--department")
    p.add_argument("--force", action="store_true", help="enrol even if the face matches another employee")
    p.add_argument("--video", metavar="FILE", help="enrol from a short clip of the person alone")
    p.add_argument("--camera", metavar="ID", help="enrol from a configured camera (see --seconds)")
    p.add_argument("--seconds", type=float, default=5.0, help="with --camera: how long to watch (default 5)")
    p.add_argument("--frames", metavar="FIRST-LAST", help="with --video: only these frames, e.g. 0-69")
    p.add_argument("--max-templates", type=int, default=5, help="with --video/--camera (default 5)")
    p.add_argument("images", nargs="*", metavar="IMAGE")

    p = add(
        "enroll-dir", cmd_enroll_dir, "enrol a folder: one subfolder per employee id (+ optional people.csv)"
    )
    p.add_argument("directory")
    p.add_argument("--force", action="store_true")
