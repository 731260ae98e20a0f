"""scripts/check_aarch64_models.py: its pure parts. The comparison of two probes' JSON (what counts
as the same face, which differences fail and with which model and photo named), the cache keys,
the command lines and the guest's /proc/cpuinfo. The emulated run itself needs Debian's archive and
the package index, and runs as its own CI step."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.scripts import REPO, load_script


def _script() -> ModuleType:
    return load_script("check_aarch64_models")


S = _script()
PHOTO, MULTI = "images/p/one.jpg", "multi/two.jpg"
EXPECTED = {PHOTO: "alice", MULTI: None}
UNIT = [1.0] + [0.0] * 127


def _face(x: float, *, score: float = 0.93, gate: bool = True, who: str = "alice") -> dict[str, Any]:
    face: dict[str, Any] = {
        "box": [x, 10.0, x + 100.0, 130.0],
        "landmarks": [
            [x + 30.0, 50.0],
            [x + 70.0, 50.0],
            [x + 50.0, 70.0],
            [x + 35.0, 95.0],
            [x + 65.0, 95.0],
        ],
        "score": score,
        "gate": gate,
    }
    if gate:
        face |= {"int8": list(UNIT), "decision": ["match", who, 0.74]}
    return face


def _side(machine: str = "aarch64") -> dict[str, Any]:
    crop = {"float": list(UNIT), "int8": list(UNIT), "decision": ["match", "alice", 0.75]}
    return {
        "machine": machine,
        "versions": "onnxruntime 1.32.0, numpy 2.4.6",
        "available_providers": ["AzureExecutionProvider", "CPUExecutionProvider"],
        "providers": {m: ["CPUExecutionProvider"] for m in ("yunet", "int8", "float")},
        "det_threshold": 0.6,
        "match_threshold": 0.55,
        "photos": {
            PHOTO: {"scale": 1.0, "faces": [_face(0.0)]},
            MULTI: {"scale": 2.0, "faces": [_face(0.0), _face(400.0, who="bob"), _face(800.0, gate=False)]},
        },
        "model": {f"{PHOTO}#0": crop},
        "ms": {"detect": [2000.0], "int8": [1400.0], "float": [3600.0]},
    }


def _fails(arm: dict[str, Any], x86: dict[str, Any] | None = None) -> list[str]:
    return S.compare(arm, x86 or _side("x86_64"), EXPECTED)[1]


def _tilted(cos: float) -> list[float]:
    """A unit vector at cosine ``cos`` to UNIT."""
    return [cos, (1 - cos * cos) ** 0.5] + [0.0] * 126


def test_identical_probes_agree_and_print() -> None:
    arm, x86 = _side(), _side("x86_64")
    rows, fails = S.compare(arm, x86, EXPECTED)
    assert fails == []
    assert len([r for r in rows if "photo" in r]) == 4 and len([r for r in rows if "crop" in r]) == 1
    S.print_table(rows, arm, x86, "cortex-a72")  # every row kind formats


def test_not_on_aarch64_or_not_on_the_cpu_provider_fails() -> None:
    arm = _side("x86_64")
    arm["providers"]["int8"] = ["AzureExecutionProvider", "CPUExecutionProvider"]
    fails = _fails(arm)
    assert any("platform.machine()" in f and "x86_64" in f for f in fails)
    assert any(f.startswith("int8: runs on") for f in fails)


def test_box_tolerance_is_in_detector_input_pixels() -> None:
    arm = _side()
    # 1.6 px in the photo's pixels: over the limit at scale 1, 0.8 px of a photo detected at half size.
    for photo in (PHOTO, MULTI):
        face = arm["photos"][photo]["faces"][0]
        face["box"] = [v + 1.6 for v in face["box"]]
    fails = _fails(arm)
    assert [f for f in fails if "box" in f] == [f"yunet: {PHOTO} face 0: box differ by 1.6 (limit 1.0)"]


def test_landmarks_score_and_gate_differences_name_the_photo() -> None:
    arm = _side()
    face = arm["photos"][MULTI]["faces"][1]
    face["landmarks"][2] = [face["landmarks"][2][0] + 4.0, face["landmarks"][2][1]]  # 2 px at scale 2
    face["score"] = 0.9
    arm["photos"][PHOTO]["faces"][0] = _face(0.0, gate=False)
    fails = _fails(arm)
    assert f"yunet: {MULTI} face 1: landmarks differ by 2 (limit 1.5)" in fails
    assert f"yunet: {MULTI} face 1: score differ by 0.03 (limit 0.02)" in fails
    assert f"quality gate: {PHOTO} face 0: passes on x86-64 only" in fails


def test_faces_pair_by_position_not_by_order() -> None:
    arm = _side()
    arm["photos"][MULTI]["faces"].reverse()  # scores within rounding may come out in another order
    assert _fails(arm) == []
    assert S.pair_faces(arm["photos"][MULTI]["faces"], _side()["photos"][MULTI]["faces"]) == [
        (0, 2),
        (1, 1),
        (2, 0),
    ]


def test_a_face_on_one_side_only_fails_unless_it_is_at_the_detection_threshold() -> None:
    x86 = _side("x86_64")
    x86["photos"][MULTI]["faces"].append(_face(1200.0, score=0.61, gate=False))
    assert _fails(_side(), x86) == []
    rows, _ = S.compare(_side(), x86, EXPECTED)
    assert any("found on x86-64 only" in r.get("note", "") for r in rows)
    arm = _side()
    arm["photos"][MULTI]["faces"].append(_face(1200.0, score=0.70, gate=False))
    assert _fails(arm) == [f"yunet: {MULTI}: a face (score 0.700) found on aarch64 only"]


def test_own_crop_cosine_and_decision() -> None:
    arm = _side()
    arm["photos"][PHOTO]["faces"][0]["int8"] = _tilted(0.97)
    arm["photos"][MULTI]["faces"][1]["decision"] = ["low_confidence", "bob", 0.52]
    fails = _fails(arm)
    assert fails == [
        f"sface_int8.onnx: {PHOTO} face 0: cosine 0.97000 < 0.98",
        f"sface_int8.onnx: {MULTI} face 1: decision ['low_confidence', 'bob'] on aarch64, "
        "['match', 'bob'] on x86-64",
    ]
    arm["photos"][PHOTO]["faces"][0]["int8"] = _tilted(0.985)  # within the bound for own crops
    assert len(_fails(arm)) == 1


def test_the_photo_must_show_its_person_on_x86() -> None:
    arm, x86 = _side(), _side("x86_64")
    for side in (arm, x86):
        side["photos"][PHOTO]["faces"][0]["decision"] = ["match", "bob", 0.6]
    assert _fails(arm, x86) == [
        f"sface_int8.onnx: {PHOTO} face 0: x86-64 decides ['match', 'bob'], the photo shows alice"
    ]


def test_same_crop_bounds_per_model() -> None:
    key = f"{PHOTO}#0"
    arm = _side()
    arm["model"][key]["float"] = _tilted(0.9985)
    arm["model"][key]["int8"] = _tilted(0.995)  # passes int8's 0.99, would fail float's 0.999
    assert _fails(arm) == [f"sface.onnx: {key}, same crop: cosine 0.99850 < 0.999"]
    arm = _side()
    arm["model"][key]["decision"] = ["unknown", None, 0.3]
    arm["model"][key]["int8"] = _tilted(0.985)
    assert _fails(arm) == [
        f"sface_int8.onnx: {key}, same crop: cosine 0.98500 < 0.99",
        f"sface.onnx: {key}, same crop: decision ['unknown', None] vs ['match', 'alice']",
        f"sface_int8.onnx: {key}: int8 vs float cosine 0.9850 on aarch64, 1.0000 on x86-64",
    ]
    missing = _side()
    missing["model"] = {}
    assert _fails(missing) == [f"probe: {key} not embedded on aarch64"]


def test_int8_may_not_drift_further_from_float_on_aarch64() -> None:
    key = f"{PHOTO}#0"
    arm, x86 = _side(), _side("x86_64")
    x86["model"][key]["int8"] = _tilted(0.975)  # int8's own error on x86-64, as measured
    arm["model"][key]["int8"] = _tilted(0.97)  # 0.9998 to x86's int8, and 0.005 further from float
    assert _fails(arm, x86) == []
    arm["model"][key]["int8"] = _tilted(0.96)  # still 0.998 to x86's int8: only the drift fails
    assert _fails(arm, x86) == [
        f"sface_int8.onnx: {key}: int8 vs float cosine 0.9600 on aarch64, 0.9750 on x86-64"
    ]


def test_cache_keys_follow_content() -> None:
    key = S.sysroot_key()
    assert key == S.sysroot_key("bookworm", tuple(reversed(S.SYSROOT_PACKAGES)))
    assert key.startswith("sysroot-") and len(key) == len("sysroot-") + 12
    assert S.sysroot_key("trixie") != key
    assert S.sysroot_key(packages=("python3.11-minimal",)) != key
    reqs = ["numpy>=1.26", "onnxruntime==1.32.0"]
    site = S.site_key(reqs, S.WHEELS.PLATFORMS, "3.11")
    assert site == S.site_key(list(reversed(reqs)), S.WHEELS.PLATFORMS, "3.11")
    assert S.site_key(["numpy>=1.26", "onnxruntime==1.32.1"], S.WHEELS.PLATFORMS, "3.11") != site
    assert S.site_key(reqs, ("manylinux2014_aarch64",), "3.11") != site
    assert S.site_key(reqs, S.WHEELS.PLATFORMS, "3.12") != site


def test_pinned_requirements_take_this_venvs_versions() -> None:
    from importlib.metadata import version

    reqs = S.pinned_requirements(["numpy>=1.26"])
    assert reqs[0] == "numpy>=1.26"
    assert f"numpy=={version('numpy')}" in reqs and f"onnxruntime=={version('onnxruntime')}" in reqs


def test_command_lines(tmp_path: Path) -> None:
    cmd = S.debootstrap_cmd(tmp_path / "root", "http://mirror.example/debian")
    assert cmd[:2] == ["debootstrap", "--foreign"] and "--arch=arm64" in cmd
    assert "--include=python3.11-minimal,libpython3.11-stdlib,libstdc++6" in cmd
    assert cmd[-3:] == ["bookworm", str(tmp_path / "root"), "http://mirror.example/debian"]
    pip = S.pip_target_cmd(["numpy>=1.26"], tmp_path / "site", S.WHEELS.PLATFORMS, "3.11")
    assert pip[1:4] == ["-m", "pip", "install"] and pip[-1] == "numpy>=1.26"
    assert pip[pip.index("--target") + 1] == str(tmp_path / "site")
    assert [pip[i + 1] for i, a in enumerate(pip) if a == "--platform"] == list(S.WHEELS.PLATFORMS)
    assert "--only-binary=:all:" in pip and pip[pip.index("--abi") + 1] == "cp311"
    qemu = S.qemu_cmd(tmp_path, "cortex-a76", ["probe.py", "x"])
    assert qemu[:5] == ["qemu-aarch64-static", "-cpu", "cortex-a76", "-L", str(tmp_path)]
    assert qemu[5] == str(tmp_path / "usr/bin/python3.11") and qemu[-2:] == ["probe.py", "x"]


def test_debian_mirror_from_apt_sources() -> None:
    deb822 = (
        "Types: deb\n# http://snapshot.example/archive/debian/20250520T000000Z\n"
        "URIs: http://deb.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://deb.example/debian/\nSuites: bookworm\n"
    )
    assert S.debian_mirror(deb822) == "http://deb.example/debian"
    one_line = "deb [arch=amd64 signed-by=/k.gpg] https://m.example/debian bookworm main\n"
    assert S.debian_mirror(one_line) == "https://m.example/debian"
    assert S.debian_mirror("deb http://m.example/ubuntu jammy main\n") is None


def test_guest_cpuinfo_replaces_the_link_to_the_hosts(tmp_path: Path) -> None:
    (tmp_path / "proc").symlink_to("/proc")
    S.write_cpuinfo(tmp_path, "cortex-a72")
    assert not (tmp_path / "proc").is_symlink()
    text = (tmp_path / "proc" / "cpuinfo").read_text()
    assert "CPU part\t: 0xd08" in text and "CPU implementer\t: 0x41" in text
    assert "vendor_id" not in text
    assert S.cpuinfo_text("cortex-a76", 4).count("processor\t:") == 4
    S.write_cpuinfo(tmp_path, "cortex-a76")  # a second run with another core rewrites it
    assert "CPU part\t: 0xd0b" in (tmp_path / "proc" / "cpuinfo").read_text()


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_unpacking_a_package_keeps_merged_usr_links(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    (pkg / "lib" / "aarch64-linux-gnu").mkdir(parents=True)  # packages still ship /lib paths
    (pkg / "lib" / "aarch64-linux-gnu" / "libt.so.1").write_text("x")
    subprocess.run(
        ["dpkg-deb", "--build", str(pkg), str(tmp_path / "t.deb")], check=True, capture_output=True
    )
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    S.unpack_deb(tmp_path / "t.deb", root)
    assert (root / "lib").is_symlink()
    assert (root / "usr" / "lib" / "aarch64-linux-gnu" / "libt.so.1").read_text() == "x"
    with pytest.raises(S.SetupError, match="unpack control failed"):
        S.unpack_deb(tmp_path / "pkg" / "DEBIAN" / "control", root)


def test_publish_drops_entries_under_other_keys(tmp_path: Path) -> None:
    old, building, other = tmp_path / "site-aaaaaaaaaaaa", tmp_path / "site-tmp123", tmp_path / "sysroot-x"
    for d in (old, building, other):
        d.mkdir()
    new = tmp_path / "site-tmpnew"
    new.mkdir()
    (new / ".complete").write_text("")
    S._publish(new, tmp_path / "site-bbbbbbbbbbbb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site-bbbbbbbbbbbb", "site-tmp123", "sysroot-x"]
    with pytest.raises(S.SetupError), S._building(tmp_path / "site-cccccccccccc") as tmp:
        (tmp / "half-installed").write_text("")
        raise S.SetupError("pip failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site-bbbbbbbbbbbb", "site-tmp123", "sysroot-x"]


def test_missing_faces_skip_outside_ci_and_fail_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert S.main(["--faces", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    monkeypatch.setenv("CI", "true")
    assert S.main(["--faces", str(tmp_path), "--cache", str(tmp_path / "cache")]) == S.EXIT_SETUP
    assert not (tmp_path / "cache").exists()  # nothing was built for a check that did not run


def test_probe_photos_are_labelled_photos_of_the_faces_dir() -> None:
    labels = REPO.parent / "shared" / "faces" / "labels.csv"
    if not labels.is_file():
        pytest.skip("no faces dir beside the repository")
    listed = set(labels.read_text().splitlines())
    assert {f"{photo},{person}" for person, photo in S.ENROL.items()} <= listed
    assert {f"{photo},{person}" for photo, person in S.PROBES.items() if person} <= listed
