#!/usr/bin/env python3
"""Check that the door device's runtime dependencies install on aarch64 from wheels alone.

Resolves ``[project].dependencies`` of pyproject.toml (not the extras: a device installs none)
for CPython 3.11 on manylinux aarch64 (glibc 2.17 or 2.28: Raspberry Pi OS 12 and Ubuntu 22.04
have newer) with ``--only-binary=:all:``, through pip's resolver (``pip install --dry-run
--report``), and fails when any package would need a source build or has no aarch64 wheel. pip
fetches the chosen wheels to read their metadata (about 100 MB, mostly onnxruntime and OpenCV;
pip's cache keeps them for the next run). Needs the network (the package index).

    python scripts/check_aarch64_wheels.py [--pyproject pyproject.toml] [--json]

Exit 0 when every dependency resolves to an aarch64 or pure-Python wheel, 1 when one does not,
2 when pip could not resolve at all (its error is printed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON = "3.11"


def runtime_requirements(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    deps = data.get("project", {}).get("dependencies")
    if not isinstance(deps, list) or not deps:
        raise SystemExit(f"{pyproject}: [project] dependencies is missing or empty")
    return [str(d) for d in deps]


def resolve(requirements: list[str], report: Path, target: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    cmd += ["--only-binary=:all:", "--python-version", PYTHON, "--implementation", "cp", "--abi", "cp311"]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    cmd += ["--target", str(target), "--report", str(report), *requirements]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def wheel_rows(report: dict[str, object]) -> list[tuple[str, str, str, bool]]:
    """(name, version, wheel file, ok) per package pip would install."""
    rows = []
    for item in report.get("install", []):  # type: ignore[union-attr]
        meta, info = item["metadata"], item["download_info"]
        wheel = str(info["url"]).rsplit("/", 1)[-1]
        tags = wheel[: -len(".whl")].split("-")[-1] if wheel.endswith(".whl") else ""
        ok = wheel.endswith(".whl") and ("aarch64" in tags or tags == "any")
        rows.append((str(meta["name"]), str(meta["version"]), wheel, ok))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--pyproject", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    requirements = runtime_requirements(args.pyproject)
    with tempfile.TemporaryDirectory(prefix="aarch64-") as tmp:
        report_path = Path(tmp) / "report.json"
        proc = resolve(requirements, report_path, Path(tmp) / "target")
        if proc.returncode != 0 or not report_path.is_file():
            print("aarch64 check: pip could not resolve the runtime dependencies:", file=sys.stderr)
            print(proc.stderr.strip() or proc.stdout.strip(), file=sys.stderr)
            return 2
        rows = wheel_rows(json.loads(report_path.read_text()))
    bad = [r for r in rows if not r[3]]
    if args.json:
        print(json.dumps([{"name": n, "version": v, "wheel": w, "ok": ok} for n, v, w, ok in rows], indent=1))
    else:
        for name, version, wheel, ok in rows:
            print(f"{'ok  ' if ok else 'FAIL'} {name} {version}: {wheel}")
    if bad:
        names = ", ".join(f"{n} ({w})" for n, _, w, _ in bad)
        print(f"aarch64 check: no aarch64 wheel for {names}", file=sys.stderr)
        return 1
    print(f"aarch64 check: {len(rows)} packages, all wheels for cp311 manylinux aarch64", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
