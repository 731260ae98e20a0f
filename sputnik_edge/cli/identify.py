"""`identify`: recognise the faces in images against the local gallery."""

from __future__ import annotations

import json

from sputnik_edge.cli.common import EXIT_OK, EXIT_USAGE, AddCommand, Ctx, err


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
                err(str(exc))
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


def register(add: AddCommand) -> None:
    p = add("identify", cmd_identify, "recognise the faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true")
