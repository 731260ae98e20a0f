"""`sputnik-edge liveness-eval` on the shared liveness data: the JSON contract, the ISO/IEC 30107-3
rates computed from the per-file verdicts, cue ablation from the command line, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sputnik_edge.cli import main
from sputnik_edge.tools.liveness_eval import FileResult, summarise
from tests.conftest import clear_config_env, require


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    clear_config_env(monkeypatch)
    monkeypatch.delenv("SPUTNIK_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path}/edge.db"\nsnapshots_dir = "{tmp_path}/snaps"\n')
    yield path


@pytest.fixture(scope="module")
def liveness(faces_dir: Path) -> Path:
    path = faces_dir / "liveness"
    require((path / "webcam_phone_replay.webm").is_file(), f"liveness data not found in {path}")
    return path


def run(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["liveness-eval", "-q", "--config", str(cfg), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_per_file_and_total(cfg: Path, liveness: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live, replay, poster = (
        liveness / "webcam_live.webm",
        liveness / "webcam_phone_replay.webm",
        liveness / "image_F1.jpg",
    )
    code, out, _ = run(cfg, capsys, "--json", "--live", str(live), "--attack", str(replay), str(poster))
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"total", "files"}
    verdicts = {Path(f["path"]).name: (f["label"], f["verdict"]) for f in data["files"]}
    assert verdicts == {
        "webcam_live.webm": ("live", "live"),
        "webcam_phone_replay.webm": ("attack", "spoof"),
        "image_F1.jpg": ("attack", "undecided"),  # a poster filling the frame: no cue sees it
    }
    total = data["total"]
    assert (total["apcer"], total["bpcer"], total["undecided"]["attack"]) == (0.0, 0.0, 1)
    # Without the border cue the phone replay is taken for live: APCER goes up.
    code, out, _ = run(cfg, capsys, "--json", "--cues", "blink,motion", "--attack", str(replay))
    assert code == 0 and json.loads(out)["total"]["apcer"] == 1.0


def test_the_config_liveness_section_is_used(
    cfg: Path, liveness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """border_frames, min_frames_live and max_frames come from the config, as in the daemon."""
    live = str(liveness / "webcam_live.webm")
    base = cfg.read_text()
    cfg.write_text(base + "[liveness]\nmax_frames = 4\n")  # live needs 5 frames: never reached
    code, out, _ = run(cfg, capsys, "--json", "--live", live)
    assert code == 0 and json.loads(out)["files"][0]["verdict"] == "undecided"
    cfg.write_text(base + "[liveness]\nmin_frames_live = 30\n")
    code, out, _ = run(cfg, capsys, "--json", "--cues", "blink,motion,border", "--live", live)
    assert code == 0
    (result,) = json.loads(out)["files"]
    assert result["verdict"] == "live" and result["frames"] >= 30  # the default decides at 5-9


def test_rates_follow_the_verdicts() -> None:
    def r(label: str, verdict: str) -> FileResult:
        return FileResult("f", label, verdict, 0.5, (), 1, 1)

    lives = [r("live", "live"), r("live", "undecided"), r("live", "spoof"), r("live", "live")]
    s = summarise([*lives, r("attack", "live"), r("attack", "spoof"), r("attack", "undecided")])
    t = s["total"]
    assert isinstance(t, dict)
    assert (t["apcer"], t["bpcer"], t["bpcer_enforce"]) == (0.3333, 0.25, 0.5)
    assert t["undecided"] == {"live": 1, "attack": 1, "live_rate": 0.25, "attack_rate": 0.3333}


def test_bad_input_exits_2_naming_it(
    cfg: Path, liveness: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(cfg, capsys, "--live", str(tmp_path / "missing.mp4"))
    assert code == 2 and "missing.mp4" in err
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    code, _, err = run(cfg, capsys, "--attack", str(junk))
    assert code == 2 and "junk.mp4" in err
    code, _, err = run(cfg, capsys, "--cues", "blink,smile", "--live", str(liveness / "image_T1.jpg"))
    assert code == 2 and "smile" in err
    code, _, err = run(cfg, capsys)
    assert code == 2 and "--live" in err
