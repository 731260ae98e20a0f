"""Verification metrics on synthetic scores with known answers, and ``sputnik-edge eval`` on the
real calibration pairs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.cli import main
from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.eval import (
    Pair,
    PairsFileError,
    accuracy_at,
    best_threshold,
    evaluate_pairs,
    kfold_accuracy,
    rates_at,
    read_pairs,
    roc_curve,
    tar_at_far,
)
from tests.conftest import require

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ---- pure metrics -------------------------------------------------------------------------------


def separable(n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    genuine = np.linspace(0.6, 0.9, n)
    impostor = np.linspace(-0.1, 0.3, n)
    return np.concatenate([genuine, impostor]).astype(np.float32), np.array([True] * n + [False] * n)


def test_best_threshold_perfectly_separable() -> None:
    scores, labels = separable()
    thr, acc = best_threshold(scores, labels)
    assert acc == 1.0
    assert 0.3 < thr <= 0.6
    assert accuracy_at(scores, labels, thr) == 1.0


def test_best_threshold_known_overlap() -> None:
    # Genuine 0.5..0.9, impostors 0.1..0.5 plus two impostors at 0.95: the best a threshold can
    # do is to misclassify exactly those two.
    genuine = np.linspace(0.5, 0.9, 40)
    impostor = np.concatenate([np.linspace(0.1, 0.45, 38), [0.95, 0.95]])
    scores = np.concatenate([genuine, impostor]).astype(np.float32)
    labels = np.array([True] * 40 + [False] * 40)
    _, acc = best_threshold(scores, labels)
    assert acc == pytest.approx(78 / 80)


def test_kfold_accuracy_separable_is_one() -> None:
    scores, labels = separable(100)
    folds = np.arange(len(scores)) % 10
    mean, std = kfold_accuracy(scores, labels, folds)
    assert mean == 1.0
    assert std == 0.0


def test_kfold_accuracy_with_one_error_fold() -> None:
    scores, labels = separable(100)
    folds = np.arange(len(scores)) % 10
    labels = labels.copy()
    labels[0] = False  # a top genuine score labelled impostor: one error in fold 0 only
    mean, _ = kfold_accuracy(scores, labels, folds)
    per_fold = len(scores) // 10
    assert mean == pytest.approx(1 - 1 / per_fold / 10)


def test_tar_at_far_counts_impostors_above_threshold() -> None:
    impostor = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    genuine = np.linspace(0.95, 1.0, 200)
    scores = np.concatenate([genuine, impostor])
    labels = np.array([True] * 200 + [False] * 1000)
    for far, allowed in ((1e-2, 10), (1e-3, 1), (5e-3, 5)):
        tar, thr = tar_at_far(scores, labels, far)
        assert int(np.sum(impostor >= thr)) == allowed
        assert tar == pytest.approx(float(np.mean(genuine >= thr)))
        assert rates_at(scores, labels, thr)[1] <= far
    # FAR 0: threshold above the highest impostor
    tar0, thr0 = tar_at_far(scores, labels, 0.0)
    assert thr0 > impostor.max()
    assert tar0 == pytest.approx(float(np.mean(genuine > impostor.max())))


def test_tar_at_far_ties_do_not_exceed_far() -> None:
    impostor = np.array([0.9] * 5 + [0.1] * 95)
    genuine = np.array([0.95, 0.85, 0.5])
    scores = np.concatenate([genuine, impostor])
    labels = np.array([True] * 3 + [False] * 100)
    tar, thr = tar_at_far(scores, labels, 0.02)  # 2 allowed, but 5 tied: none may pass
    assert np.sum(impostor >= thr) == 0
    assert tar == pytest.approx(1 / 3)


def test_rates_at() -> None:
    scores = np.array([0.9, 0.7, 0.5, 0.3, 0.6, 0.2, 0.1, 0.0])
    labels = np.array([True, True, True, True, False, False, False, False])
    tar, far = rates_at(scores, labels, 0.55)
    assert tar == pytest.approx(0.5)
    assert far == pytest.approx(0.25)


def test_roc_curve_ends_at_one() -> None:
    scores, labels = separable()
    far, tar, _ = roc_curve(scores, labels)
    assert far[-1] == pytest.approx(1.0)
    assert tar[-1] == pytest.approx(1.0)
    assert np.all(np.diff(far) >= 0)
    assert np.all(np.diff(tar) >= 0)


def test_read_pairs_errors_name_column_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("path_a,path_b,same\na.jpg,b.jpg,maybe\n")
    with pytest.raises(ValueError, match=r"p\.csv:2.*same.*maybe"):
        read_pairs(bad)
    bad.write_text("path_a,path_b,same,fold\na.jpg,b.jpg,1,x\n")
    with pytest.raises(ValueError, match="fold"):
        read_pairs(bad)
    bad.write_text("path_a,path_b,same\n")
    with pytest.raises(ValueError, match="no pairs"):
        read_pairs(bad)


# ---- the real pipeline ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calib(faces_dir: Path) -> Path:
    root = faces_dir / "calib"
    require((root / "pairs.csv").is_file(), f"calibration pairs not found under {root}")
    return root


@pytest.fixture(scope="module")
def recognizer(models_dir: Path) -> Recognizer:
    require((models_dir / "MANIFEST").is_file() or any(models_dir.glob("*.onnx")), "models missing")
    return Recognizer.from_config(RecognitionSection(models_dir=models_dir))


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("SPUTNIK_CONFIG", raising=False)
    for name in ("RECOGNITION_MATCH_THRESHOLD", "RECOGNITION_LOW_CONFIDENCE_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path}/edge.db"\nsnapshots_dir = "{tmp_path}/snaps"\n')
    yield path


def rows(calib: Path) -> list[dict[str, str]]:
    with (calib / "pairs.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def write_pairs(path: Path, data: list[dict[str, str]], fields: list[str]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(data)
    return path


def test_evaluate_pairs_subset_is_accurate(recognizer: Recognizer, calib: Path, tmp_path: Path) -> None:
    subset = [r for r in rows(calib) if r["path_a"].startswith("faceapi_bbt/")]
    assert len(subset) >= 100
    pairs = read_pairs(write_pairs(tmp_path / "p.csv", subset, ["path_a", "path_b", "same"]))
    result = evaluate_pairs(recognizer, pairs, calib)
    s = result.summary
    assert s["pairs"] == len(subset)
    assert s["images"] == len({r[k] for r in subset for k in ("path_a", "path_b")})
    assert s["folds_from"] == "contiguous"  # no fold column: ten splits in file order
    assert s["folds"] == 10
    assert s["acc_best"] >= 0.9
    assert len(result.scores) == len(subset)
    same = result.labels
    assert float(np.median(result.scores[same])) > float(np.median(result.scores[~same])) + 0.3


def test_eval_cli_full_pairs_with_folds_and_plot(
    calib: Path, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(calib)
    for i, r in enumerate(data):
        r["fold"] = str(i % 10)
    pairs = write_pairs(tmp_path / "folds.csv", data, ["path_a", "path_b", "same", "fold"])
    plot = tmp_path / "out" / "roc.png"
    argv = ["eval", "-q", "--config", str(cfg), "--pairs", str(pairs), "--root", str(calib)]
    code = main([*argv, "--json", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0
    s = json.loads(out)
    for key in (
        "pairs",
        "images",
        "no_detection",
        "acc_10fold",
        "tar_at_far_1e-3",
        "threshold_at_far_1e-3",
        "tar_at_far_1e-2",
        "ms_per_image",
        "tar_at_match_threshold",
        "far_at_match_threshold",
        "tar_at_low_confidence_threshold",
        "far_at_low_confidence_threshold",
    ):
        assert key in s, key
    assert s["pairs"] == len(data)
    assert s["images"] == len({r[k] for r in data for k in ("path_a", "path_b")})
    assert s["match_threshold"] == pytest.approx(0.55)
    assert s["low_confidence_threshold"] == pytest.approx(0.40)
    assert s["acc_best"] >= 0.97
    assert s["acc_10fold"] >= 0.97
    assert s["folds_from"] == "column"
    assert 0 <= s["no_detection"] <= 3  # README: a few CompreFace photos defeat some detectors
    assert s["far_at_match_threshold"] <= s["far_at_low_confidence_threshold"]
    assert s["tar_at_match_threshold"] <= s["tar_at_low_confidence_threshold"]
    assert s["ms_per_image"] > 0
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert plot.stat().st_size > 5000


def test_eval_cli_missing_column_exits_2(
    calib: Path, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_pairs(tmp_path / "bad.csv", rows(calib)[:5], ["path_a", "path_b"])
    assert main(["eval", "-q", "--config", str(cfg), "--pairs", str(bad), "--root", str(calib)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "same" in err
    assert str(bad) in err


def test_eval_cli_missing_pairs_file_and_root(
    calib: Path, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.csv"
    assert main(["eval", "--config", str(cfg), "--pairs", str(missing), "--root", str(calib)]) == 2
    assert str(missing) in capsys.readouterr().err
    pairs = str(calib / "pairs.csv")
    assert main(["eval", "--config", str(cfg), "--pairs", pairs, "--root", str(tmp_path / "x")]) == 2
    assert str(tmp_path / "x") in capsys.readouterr().err


def test_eval_cli_one_class_only_exits_2(
    calib: Path, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_same = [r for r in rows(calib) if r["same"] == "1" and r["path_a"].startswith("faceapi_bbt/")][:3]
    p = write_pairs(tmp_path / "same.csv", only_same, ["path_a", "path_b", "same"])
    assert main(["eval", "-q", "--config", str(cfg), "--pairs", str(p), "--root", str(calib)]) == 2
    assert "different-person" in capsys.readouterr().err


# ---- LFW's own pairs.txt ---------------------------------------------------------------------------


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_lfw_pairs_txt_paths_labels_and_folds(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "2\t2",
            "Aaron_Peirsol\t1\t2",
            "Aaron_Peirsol\t3\t4",
            "AJ_Cook\t1\tMarsha_Thomason\t1",
            "AJ_Lamas\t1\tZach_Safrin\t1",
            "Abel_Pacheco\t1\t4",
            "Akhmed_Zakayev\t1\t3",
            "Abdel_Madi_Shabneh\t1\tDean_Barker\t1",
            "Abdoulaye_Wade\t4\tJohn_Kerry\t12",
        ]
    )
    pairs = read_pairs(write_text(tmp_path / "pairs.txt", text))
    assert len(pairs) == 8
    assert pairs[0] == Pair(
        "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg", True, 0
    )
    assert pairs[2] == Pair("AJ_Cook/AJ_Cook_0001.jpg", "Marsha_Thomason/Marsha_Thomason_0001.jpg", False, 0)
    assert pairs[7].path_b == "John_Kerry/John_Kerry_0012.jpg"
    assert [p.same for p in pairs] == [True, True, False, False] * 2
    assert [p.fold for p in pairs] == [0] * 4 + [1] * 4
    # pairsDevTest.txt style: one number, one set.
    one = read_pairs(write_text(tmp_path / "dev.txt", "1\nA_B\t1\t2\nA_B\t1\tC_D\t3\n"))
    assert [(p.same, p.fold) for p in one] == [(True, 0), (False, 0)]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2\t1\nA\t1\t2\nA\t1\tB\t1\n", "2 set(s) of 1 + 1 pairs, the file has 2 pair lines"),
        ("1\t1\nA\t1\t2\nA\t1\tB\t1\t2\n", ":3: expected 'name i j' or 'name i other j', got 5"),
        ("1\t1\nA\t1\t2\nA\t1\tB\n", ":3: image number must be a positive integer, got 'B'"),
        ("1\t1\nA\t1\tx\nA\t1\tB\t1\n", ":2: image number must be a positive integer, got 'x'"),
        ("1\t1\nA\t0\t2\nA\t1\tB\t1\n", "got '0'"),
    ],
)
def test_lfw_pairs_txt_errors_name_the_line(tmp_path: Path, text: str, needle: str) -> None:
    path = write_text(tmp_path / "pairs.txt", text)
    with pytest.raises(PairsFileError) as info:
        read_pairs(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_eval_on_an_lfw_layout_equals_the_csv_route(
    calib: Path, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The calibration photos laid out like LFW (lfw/name/name_000i.jpg, pairs.txt in 10 sets):
    the same scores as the CSV of the same pairs, with the sets as folds."""
    per_set = 12
    data = rows(calib)
    same = [r for r in data if r["same"] == "1"][: 10 * per_set]
    diff = [r for r in data if r["same"] == "0"][: 10 * per_set]
    names: dict[str, tuple[str, int]] = {}
    lfw = tmp_path / "lfw"
    for rel in sorted({r[k] for r in same + diff for k in ("path_a", "path_b")}):
        person = rel.rsplit("/", 1)[0].replace("/", "-")
        index = 1 + sum(1 for n, _ in names.values() if n == person)
        names[rel] = (person, index)
        (lfw / person).mkdir(parents=True, exist_ok=True)
        (lfw / person / f"{person}_{index:04d}.jpg").symlink_to(calib / rel)
    lines, ordered = [f"10\t{per_set}"], []
    for k in range(10):
        for r in same[k * per_set : (k + 1) * per_set]:
            (pa, ia), (_, ib) = names[r["path_a"]], names[r["path_b"]]
            lines.append(f"{pa}\t{ia}\t{ib}")
            ordered.append(r)
        for r in diff[k * per_set : (k + 1) * per_set]:
            (pa, ia), (pb, ib) = names[r["path_a"]], names[r["path_b"]]
            lines.append(f"{pa}\t{ia}\t{pb}\t{ib}")
            ordered.append(r)
    pairs_txt = write_text(tmp_path / "pairs.txt", "\n".join(lines) + "\n")
    for i, r in enumerate(ordered):
        r["fold"] = str(i // (2 * per_set))
    csv_path = write_pairs(tmp_path / "same.csv", ordered, ["path_a", "path_b", "same", "fold"])

    base = ["eval", "-q", "--config", str(cfg), "--json"]
    assert main([*base, "--pairs", str(pairs_txt), "--root", str(lfw)]) == 0
    via_lfw = json.loads(capsys.readouterr().out)
    assert main([*base, "--pairs", str(csv_path), "--root", str(calib)]) == 0
    via_csv = json.loads(capsys.readouterr().out)
    assert via_lfw["pairs"] == 20 * per_set and via_lfw["folds"] == 10 and via_lfw["folds_from"] == "column"
    for key in (
        "acc_10fold",
        "acc_10fold_std",
        "acc_best",
        "threshold_best",
        "no_detection",
        "tar_at_far_1e-2",
    ):
        assert via_lfw[key] == via_csv[key], key
    assert via_lfw["acc_10fold"] >= 0.9


def test_pairs_file_with_bom_or_not_utf8(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf1\t1\nA\t1\t2\nA\t1\tB\t1\n")
    assert [p.same for p in read_pairs(bom)] == [True, False]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"path_a,path_b,same\nJos\xe9/1.jpg,Jos\xe9/2.jpg,1\n")
    with pytest.raises(PairsFileError, match="not UTF-8"):
        read_pairs(latin)
