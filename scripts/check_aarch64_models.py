#!/usr/bin/env python3
"""Run the shipped models on aarch64 under user-mode emulation (qemu) and compare with x86-64.

scripts/aarch64_probe.py runs the recognizer as the daemon builds it (YuNet, the int8 SFace that
identifies, the float SFace that makes templates) on a few photos of the faces dir, twice: in this
x86-64 Python, and as aarch64 CPython 3.11 (a Debian bookworm sysroot, ``qemu-aarch64-static -L``)
over the device's runtime dependencies installed from their aarch64 wheels. Compared: each side's
own pipeline (faces, boxes, landmarks, quality gate, int8 embedding, the gallery's decision against
templates made on x86-64) and both embedders on the same crops.

    python scripts/check_aarch64_models.py [--cpu cortex-a72|cortex-a76] [--cache DIR] [--faces DIR]

The sysroot and the wheels are cached in --cache (default /var/cache/sputnik-edge/aarch64), keyed
by what they hold. Faces: --faces, $SPUTNIK_FACES_DIR or ../shared/faces; missing photos skip the
check, except under CI=true. Exit 0 when all agree, 1 on a mismatch (model and photo named) or when
the probe fails on aarch64, 2 when the setup failed. Emulated timings are not a sizing figure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path("/var/cache/sputnik-edge/aarch64")
SUITE = "bookworm"
SYSROOT_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6")
LAYOUT = "1"  # bump when the recipe of a cache entry changes: its key changes, so it is rebuilt
# The aarch64 site gets the x86 run's versions of these, so a difference is the architecture's.
PINNED = ("numpy", "onnxruntime", "opencv-python-headless", "pillow")
# MIDR fields (variant, part, revision) of the emulated core, for the guest's /proc/cpuinfo.
CPUS = {"cortex-a72": ("0x0", "0xd08", "3"), "cortex-a76": ("0x4", "0xd0b", "1")}  # Pi 4, Pi 5
BOX_PX = 1.0  # box and landmark deltas in the detector's input pixels (a 1200 px photo is seen at 640)
LANDMARK_PX = 1.5
SCORE_DELTA = 0.02
SCORE_MARGIN = 0.05  # a face this close to the detection threshold may be found on one side only
# "float"/"int8": the same crop on both sides; "int8_own_crops": each side's own crop, whose pixels
# differ by the rounding of OpenCV's INTER_LINEAR resize before detection (NEON vs x86 SIMD).
MIN_COSINE = {"float": 0.999, "int8": 0.99, "int8_own_crops": 0.98}
INT8_FIDELITY_DROP = 0.01
EXIT_MISMATCH, EXIT_SETUP = 1, 2


Json = dict[str, Any]  # a probe's JSON, or a face or crop in it
Rows = list[dict[str, Any]]


class SetupError(RuntimeError):
    """The emulated environment could not be built or run: exit 2, not a model mismatch."""


def _sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The wheel check's platform tags and requirement reader, so both steps test the same install.
WHEELS = _sibling("check_aarch64_wheels")
PROBE = _sibling("aarch64_probe")
ENROL: dict[str, str] = PROBE.ENROL
PROBES: dict[str, str | None] = PROBE.PROBES


def cache_key(kind: str, parts: list[str]) -> str:
    """Directory name of a cache entry: ``kind-<12 hex>`` over everything that shapes its content."""
    return f"{kind}-{hashlib.sha256(chr(10).join([kind, LAYOUT, *parts]).encode()).hexdigest()[:12]}"


def sysroot_key(suite: str = SUITE, packages: tuple[str, ...] = SYSROOT_PACKAGES) -> str:
    return cache_key("sysroot", [suite, "arm64", *sorted(packages)])


def site_key(requirements: list[str], platforms: tuple[str, ...], python: str) -> str:
    return cache_key("site", [python, *platforms, *sorted(requirements)])


def debian_mirror(sources: str) -> str | None:
    """The main archive's URI in apt's sources (deb822 ``URIs:`` or one-line ``deb`` form)."""
    for line in sources.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] in (["deb"], ["URIs:"]):  # one-line options like [signed-by=...] have no ://
            for uri in (w.rstrip("/") for w in words[1:] if "://" in w):
                if uri.endswith("/debian"):
                    return uri
    return None


def debootstrap_cmd(dest: Path, mirror: str, suite: str = SUITE) -> list[str]:
    # --foreign only unpacks, so no arm64 maintainer script has to run; qemu -L needs no more.
    cmd = ["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase"]
    return [*cmd, f"--include={','.join(SYSROOT_PACKAGES)}", suite, str(dest), mirror]


def pip_target_cmd(reqs: list[str], target: Path, platforms: tuple[str, ...], python: str) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target)]
    cmd += ["--only-binary=:all:", "--python-version", python, "--implementation", "cp", "--abi", "cp311"]
    for tag in platforms:
        cmd += ["--platform", tag]
    return cmd + reqs


def qemu_cmd(sysroot: Path, cpu: str, args: list[str]) -> list[str]:
    python = str(sysroot / "usr/bin/python3.11")
    return ["qemu-aarch64-static", "-cpu", cpu, "-L", str(sysroot), python, "-X", "faulthandler", *args]


def cpuinfo_text(cpu: str, count: int) -> str:
    variant, part, revision = CPUS[cpu]
    block = "processor\t: {}\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
    block += f"CPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {revision}\n\n"
    return "".join(block.format(i) for i in range(count))


def write_cpuinfo(sysroot: Path, cpu: str) -> None:
    """qemu 7.2 shows the guest the host's x86 /proc/cpuinfo, on which onnxruntime's cpuinfo library
    segfaults at import. With -L, qemu opens SYSROOT/proc/cpuinfo first when it exists: an arm64
    one there (the emulated core's MIDR) avoids that. Features come from qemu's HWCAP either way."""
    proc = sysroot / "proc"
    if proc.is_symlink():  # debootstrap links proc to the host's /proc
        proc.unlink()
    proc.mkdir(exist_ok=True)
    text = cpuinfo_text(cpu, os.cpu_count() or 1)
    if not (proc / "cpuinfo").is_file() or (proc / "cpuinfo").read_text() != text:
        (proc / "cpuinfo").write_text(text)


def _run(cmd: list[str], what: str, timeout: float, *, setup: bool = True, **kw: Any) -> str | None:
    """None when ``cmd`` succeeded, else the tail of its output (a SetupError for a ``setup`` step)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{what}: {exc}") from None
    if proc.returncode == 0:
        return None
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    if setup:
        raise SetupError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return f"{what} failed (exit {proc.returncode}):\n{tail}"


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished entry into place and drop the entries of its kind under other keys."""
    try:
        tmp.rename(final)
    except OSError:  # another run published the same key first
        shutil.rmtree(tmp, ignore_errors=True)
    kind = final.name.split("-", 1)[0]
    for old in final.parent.glob(f"{kind}-*"):
        if old != final and not old.name.startswith(f"{kind}-tmp"):
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _building(final: Path) -> Iterator[Path]:
    """A new directory beside ``final``: published as ``final`` when the block succeeds, else removed."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name.split('-', 1)[0]}-tmp", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, final)


def unpack_deb(deb: Path, root: Path) -> None:
    script = 'dpkg-deb --fsys-tarfile "$0" | tar -x --keep-directory-symlink -C "$1"'
    _run(["bash", "-o", "pipefail", "-c", script, str(deb), str(root)], f"unpack {deb.name}", 120)


def ensure_sysroot(cache: Path, mirror: str) -> Path:
    final = cache / sysroot_key()
    if (final / "usr/bin/python3.11").is_file():
        return final
    with _building(final) as tmp:
        _run(debootstrap_cmd(tmp, mirror), "debootstrap", 600)
        # The first stage unpacks the Priority: required set only; the --include'd packages (python)
        # wait for the second stage, which runs dpkg on arm64. Unpack them here, keeping merged
        # /usr's lib -> usr/lib links (dpkg -x would replace them with directories: no loader then).
        paths = dict(line.split(None, 1) for line in (tmp / "debootstrap/debpaths").read_text().splitlines())
        for name in (tmp / "debootstrap/base").read_text().split():
            unpack_deb(tmp / paths[name].strip().lstrip("/"), tmp)
        shutil.rmtree(tmp / "var/cache/apt/archives", ignore_errors=True)
        if not (tmp / "usr/bin/python3.11").is_file():
            raise SetupError("the sysroot has no usr/bin/python3.11 after unpacking")
    return final


def pinned_requirements(requirements: list[str]) -> list[str]:
    from importlib.metadata import distributions

    have = {str(d.metadata["Name"]).lower(): d.version for d in distributions()}
    return requirements + [f"{name}=={have[name]}" for name in PINNED if name in have]


def ensure_site(cache: Path, requirements: list[str], platforms: tuple[str, ...], python: str) -> Path:
    final = cache / site_key(requirements, platforms, python)
    if (final / ".complete").is_file():
        return final
    with _building(final) as tmp:
        _run(pip_target_cmd(requirements, tmp, platforms, python), "pip install (aarch64 wheels)", 900)
        (tmp / ".complete").write_text("\n".join(requirements) + "\n")
    return final


# --- the comparison ---


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)) or 1.0)


def _flat(v: Any) -> list[float]:
    return [x for item in v for x in _flat(item)] if isinstance(v, list) else [float(v)]


def max_delta(a: list[Any], b: list[Any]) -> float:
    return max((abs(x - y) for x, y in zip(_flat(a), _flat(b), strict=True)), default=0.0)


def pair_faces(arm: list[Json], x86: list[Json]) -> list[tuple[int | None, int | None]]:
    """(aarch64 index, x86 index) of the same face: box centres closer than a tenth of the box width
    (close scores may come in another order); a face found on one side only pairs with None."""

    def centre(f: Json) -> tuple[float, float]:
        return (f["box"][0] + f["box"][2]) / 2, (f["box"][1] + f["box"][3]) / 2

    pairs: list[tuple[int | None, int | None]] = []
    free = list(range(len(x86)))
    for i, f in enumerate(arm):
        dist = {j: math.dist(centre(f), centre(x86[j])) for j in free}
        near = [j for j, d in dist.items() if d < 0.1 * (f["box"][2] - f["box"][0])]
        j = min(near, key=dist.__getitem__, default=None)
        if j is not None:
            free.remove(j)
        pairs.append((i, j))
    return pairs + [(None, j) for j in free]


def _compare_face(where: str, a: Json, x: Json, scale: float, want: str | None) -> tuple[Json, list[str]]:
    row = {"gate": (a["gate"], x["gate"]), "score": abs(a["score"] - x["score"])}
    row["box"] = max_delta(a["box"], x["box"]) / scale
    row["landmarks"] = max_delta(a["landmarks"], x["landmarks"]) / scale
    limits = (("box", BOX_PX), ("landmarks", LANDMARK_PX), ("score", SCORE_DELTA))
    fails = [f"yunet: {where}: {k} differ by {row[k]:.3g} (limit {lim})" for k, lim in limits if row[k] > lim]
    if a["gate"] != x["gate"]:
        fails.append(f"quality gate: {where}: passes on {'aarch64' if a['gate'] else 'x86-64'} only")
    if a["gate"] and x["gate"]:
        row |= {"int8": cosine(a["int8"], x["int8"]), "decision": (a["decision"], x["decision"])}
        da, dx, model = a["decision"][:2], x["decision"][:2], f"sface_int8.onnx: {where}"
        if row["int8"] < MIN_COSINE["int8_own_crops"]:
            fails.append(f"{model}: cosine {row['int8']:.5f} < {MIN_COSINE['int8_own_crops']}")
        if da != dx:
            fails.append(f"{model}: decision {da} on aarch64, {dx} on x86-64")
        if want and dx != ["match", want]:
            fails.append(f"{model}: x86-64 decides {dx}, the photo shows {want}")
    return row, fails


def compare(arm: Json, x86: Json, expected: dict[str, str | None] = PROBES) -> tuple[Rows, list[str]]:
    """One row per face and per crop, and one line per disagreement naming the model and the photo."""
    cpu_only = ["CPUExecutionProvider"]
    fails = [f"{m}: runs on {p} on aarch64" for m, p in arm["providers"].items() if p != cpu_only]
    if arm["machine"] != "aarch64":
        fails.append(f"probe: platform.machine() is {arm['machine']!r}, not 'aarch64'")
    rows: Rows = []
    for photo, xp in x86["photos"].items():
        a_faces, x_faces = arm["photos"].get(photo, {"faces": []})["faces"], xp["faces"]
        for i, j in pair_faces(a_faces, x_faces):
            if i is not None and j is not None:
                row, more = _compare_face(
                    f"{photo} face {j}", a_faces[i], x_faces[j], xp["scale"], expected.get(photo)
                )
                rows.append({"photo": photo, "face": j, **row})
                fails += more
                continue
            side, f = ("aarch64", a_faces[i]) if i is not None else ("x86-64", x_faces[j])
            note = f"yunet: {photo}: a face (score {f['score']:.3f}) found on {side} only"
            rows.append({"photo": photo, "face": j, "note": note})
            # Rounding may flip a face at the detection threshold, not one well above it.
            if f["score"] >= x86["det_threshold"] + SCORE_MARGIN:
                fails.append(note)
    for key, x in x86["model"].items():
        a = arm["model"].get(key)
        if a is None:
            fails.append(f"probe: {key} not embedded on aarch64")
            continue
        row = {"crop": key, "decision": (a["decision"], x["decision"])}
        for name, model in (("float", "sface.onnx"), ("int8", "sface_int8.onnx")):
            row[name] = cosine(a[name], x[name])
            if row[name] < MIN_COSINE[name]:
                fails.append(f"{model}: {key}, same crop: cosine {row[name]:.5f} < {MIN_COSINE[name]}")
        if a["decision"][:2] != x["decision"][:2]:
            fails.append(f"sface.onnx: {key}, same crop: decision {a['decision'][:2]} vs {x['decision'][:2]}")
        # int8's own error (its cosine to the float embedding): no worse on aarch64 than on x86-64.
        fa, fx = row["fidelity"] = (cosine(a["int8"], a["float"]), cosine(x["int8"], x["float"]))
        if fa < fx - INT8_FIDELITY_DROP:
            fails.append(
                f"sface_int8.onnx: {key}: int8 vs float cosine {fa:.4f} on aarch64, {fx:.4f} on x86-64"
            )
        rows.append(row)
    return rows, fails


def print_table(rows: Rows, arm: Json, x86: Json, cpu: str) -> None:
    def decision(r: Json) -> str:
        return " | ".join(f"{d[0]}:{d[1] or '-'} {d[2]:.3f}" for d in r.get("decision", ()))

    print(f"aarch64 ({cpu} under qemu; {arm['versions']}) vs x86-64 ({x86['versions']})")
    print(f"session providers on aarch64: {arm['providers']} (available: {arm['available_providers']})")
    print(f"templates: {', '.join(ENROL.values())}, x86-64's float model; match at {x86['match_threshold']}")
    print("each side's own pipeline (deltas in detector-input px; decision aarch64 | x86-64):")
    for r in (r for r in rows if "photo" in r):
        face = f"  {r['photo']:31} {'-' if r['face'] is None else r['face']:>2} "
        if "note" in r:
            print(face + r["note"])
            continue
        gate = "/".join("ok" if g else "no" for g in r["gate"])
        cos = f"int8 cos {r['int8']:.5f}" if "int8" in r else ""
        face += f"box {r['box']:.3f} lm {r['landmarks']:.3f} score {r['score']:.4f} {gate:5} {cos:17}"
        print(face, decision(r))
    print("both embedders on x86-64's crops (the same input; int8 vs float, decision: aarch64 | x86-64):")
    for r in (r for r in rows if "crop" in r):
        fid = "int8 vs float {:.4f} | {:.4f}".format(*r["fidelity"])
        print(f"  {r['crop']:34} float cos {r['float']:.7f} int8 cos {r['int8']:.5f} {fid}  {decision(r)}")
    for side, res in (("emulated, not a sizing figure", arm), ("x86-64, native, shared machine", x86)):
        ms = {k: sorted(v)[len(v) // 2] for k, v in res["ms"].items()}
        print(f"median ms ({side}): detect+align+gate {ms['detect']:.0f} per photo, ", end="")
        print(f"embed int8 {ms['int8']:.0f}, float {ms['float']:.0f} per face")


def prepare(cache: Path, mirror: str | None, cpu: str) -> tuple[Path, Path]:
    """The sysroot and the site of aarch64 wheels, from the cache or built into it."""
    for tool in ("qemu-aarch64-static", "debootstrap", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found (apt-get install qemu-user-static debootstrap)")
    apt = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    mirror = mirror or debian_mirror("\n".join(p.read_text() for p in apt if p.is_file()))
    if not mirror:
        raise SetupError("no Debian mirror in apt's sources: pass --mirror")
    cache.mkdir(parents=True, exist_ok=True)
    sysroot = ensure_sysroot(cache, mirror)
    reqs = pinned_requirements(WHEELS.runtime_requirements(REPO / "pyproject.toml"))
    site = ensure_site(cache, reqs, WHEELS.PLATFORMS, WHEELS.PYTHON)
    write_cpuinfo(sysroot, cpu)
    return sysroot, site


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cpu", choices=sorted(CPUS), default="cortex-a72", help="emulated core (a Pi 4's)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--faces", type=Path, help="faces dir (default: $SPUTNIK_FACES_DIR or ../shared/faces)")
    ap.add_argument("--mirror", help="Debian mirror for debootstrap (default: the one apt uses)")
    args = ap.parse_args(argv)
    faces = args.faces or Path(os.environ.get("SPUTNIK_FACES_DIR") or REPO.parent / "shared" / "faces")
    missing = [p for p in [*ENROL.values(), *PROBES] if not (faces / p).is_file()]
    if missing:
        ci = os.environ.get("CI", "").lower() == "true"
        print(
            f"aarch64 models: no {', '.join(missing)} in {faces}{'' if ci else ': skipped'}", file=sys.stderr
        )
        return EXIT_SETUP if ci else 0
    t0 = time.monotonic()
    # An x86 OPENBLAS_CORETYPE means nothing to the arm64 OpenBLAS; the probes get our PYTHON* only.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OPENBLAS_"))}
    env |= {"PYTHONNOUSERSITE": "1", "PYTHONPYCACHEPREFIX": str(args.cache / "pycache")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    try:
        sysroot, site = prepare(args.cache, args.mirror, args.cpu)
        t_setup = time.monotonic() - t0
        with tempfile.TemporaryDirectory(prefix="aarch64-models-") as tmp:  # mode 0700: crops go here
            probe = [str(Path(PROBE.__file__).resolve()), str(faces)]
            inputs = f"{tmp}/inputs.npz"
            # x86 first: it makes the templates and the crops, and a broken checkout fails in seconds.
            x86_cmd = [sys.executable, *probe, f"{tmp}/x86.json", inputs]
            _run(x86_cmd, "x86-64 probe", 300, cwd=tmp, env=env | {"PYTHONPATH": str(REPO)})
            t1 = time.monotonic()
            arm_cmd = qemu_cmd(sysroot, args.cpu, [*probe, f"{tmp}/arm.json", inputs])
            arm_env = env | {"PYTHONPATH": f"{site}:{REPO}"}
            error = _run(arm_cmd, "the probe on aarch64", 900, setup=False, cwd=tmp, env=arm_env)
            if error:  # the models or their libraries do not run there: what this step is for
                print(f"MISMATCH yunet/sface: {error}", file=sys.stderr)
                return EXIT_MISMATCH
            t_arm = time.monotonic() - t1
            x86, arm = (json.loads(Path(tmp, f"{side}.json").read_text()) for side in ("x86", "arm"))
    except SetupError as exc:
        print(f"aarch64 models: setup failed: {exc}", file=sys.stderr)
        return EXIT_SETUP
    rows, fails = compare(arm, x86)
    print_table(rows, arm, x86, args.cpu)
    total = time.monotonic() - t0
    print(f"aarch64 models: setup {t_setup:.0f} s, emulated probe {t_arm:.0f} s, total {total:.0f} s")
    for line in fails:
        print(f"MISMATCH {line}", file=sys.stderr)
    if fails:
        return EXIT_MISMATCH
    n_faces = sum(len(p["faces"]) for p in x86["photos"].values())
    print(f"aarch64 models: {n_faces} faces, {len(x86['model'])} crops agree", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
