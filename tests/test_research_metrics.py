"""Evaluation metrics against values worked out by hand, and the confusion-matrix picture."""

import struct

import numpy as np
import pytest
from sklearn.metrics import f1_score

from musictagger.research.metrics import (
    bootstrap_interval,
    choose_thresholds,
    classification_report,
    format_report,
    macro_f1,
    multilabel_report,
    save_confusion_matrix_png,
    wilson_interval,
)

LABELS = ["rock", "jazz", "metal"]
# 6 clips: rock 0,0,0 -> 0,0,1; jazz 1,1 -> 1,2; metal 2 -> 2
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_classification_report_matches_hand_computed_values():
    report = classification_report(Y_TRUE, Y_PRED, LABELS)
    assert report["task"] == "multiclass" and report["n"] == 6 and report["labels"] == LABELS
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    per = report["per_class"]
    # rock: 2 of 2 predicted right, 2 of 3 found; jazz: 1 of 2, 1 of 2; metal: 1 of 2, 1 of 1
    assert per["rock"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert per["jazz"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert per["metal"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["accuracy_ci"] == pytest.approx(wilson_interval(4, 6))
    lo, hi = report["macro_f1_ci"]
    assert 0.0 <= lo < report["macro_f1"] < hi <= 1.0
    # label names give the same report as indices
    by_name = classification_report([LABELS[i] for i in Y_TRUE], [LABELS[i] for i in Y_PRED], LABELS)
    assert by_name == report
    with pytest.raises(ValueError, match="'blues' is not one of"):
        classification_report(["blues"], ["rock"], LABELS)


def test_macro_f1_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
        assert macro_f1(y_true, y_pred, 5) == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    # a class absent from both truth and predictions is not averaged in (as sklearn)
    assert macro_f1([0, 1], [0, 1], 4) == 1.0


def test_wilson_interval_known_values():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_bootstrap_interval_is_seeded_and_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 60)
    y_pred = np.where(rng.random(60) < 0.7, y_true, rng.integers(0, 3, 60))

    def metric(t, p):
        return macro_f1(t, p, 3)

    small = bootstrap_interval(metric, y_true, y_pred, n=300, seed=4)
    assert small == bootstrap_interval(metric, y_true, y_pred, n=300, seed=4)
    assert small != bootstrap_interval(metric, y_true, y_pred, n=300, seed=5)
    assert small[0] < metric(y_true, y_pred) < small[1]
    big = bootstrap_interval(metric, np.tile(y_true, 10), np.tile(y_pred, 10), n=300, seed=4)
    assert big[1] - big[0] < (small[1] - small[0]) / 2  # 10x the data: about 1/sqrt(10) the width
    assert bootstrap_interval(metric, y_true, y_true, n=50) == (1.0, 1.0)


def test_confusion_matrix_png(tmp_path):
    labels = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
    matrix = np.diag(np.arange(1, 11)) + 1
    path = save_confusion_matrix_png(matrix, labels, tmp_path / "out" / "confusion.png", "GTZAN test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 400 <= width <= 2000 and 400 <= height <= 2000
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0.05  # something is drawn, not a blank canvas
    with pytest.raises(ValueError, match="does not match"):
        save_confusion_matrix_png(matrix, labels[:3], tmp_path / "bad.png")


def _f1(scores, truth, t):
    pred = scores >= t
    denom = pred.sum() + truth.sum()
    return 2 * np.sum(pred & truth) / denom if denom else 0.0


def test_choose_thresholds_maximises_each_tags_f1():
    # tag 0: the best cut keeps 0.9, 0.8, 0.7, 0.4 (3 of 3 positives, 1 false): F1 6/7 beats 0.8 at >= 0.8
    # tag 1: positives score low; the best F1 (1.0) needs a threshold between 0.3 and 0.2
    # tag 2: no positive in the validation data: the default stays
    probs = np.array(
        [
            [0.9, 0.1, 0.5],
            [0.8, 0.2, 0.6],
            [0.7, 0.3, 0.2],
            [0.4, 0.05, 0.1],
            [0.3, 0.5, 0.9],
            [0.2, 0.6, 0.3],
        ]
    )
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
    thresholds = choose_thresholds(probs, targets)
    assert thresholds[0] == pytest.approx(0.35) and thresholds[2] == 0.5
    truth = targets > 0
    grid = np.linspace(0, 1, 1001)
    for c in (0, 1):
        best = max(_f1(probs[:, c], truth[:, c], t) for t in grid)
        assert _f1(probs[:, c], truth[:, c], thresholds[c]) == pytest.approx(best)
    assert _f1(probs[:, 0], truth[:, 0], thresholds[0]) == pytest.approx(6 / 7)
    # random data: never worse than any threshold on a grid
    rng = np.random.default_rng(2)
    probs, targets = rng.random((50, 4)), rng.random((50, 4)) < 0.3
    thresholds = choose_thresholds(probs, targets)
    for c in range(4):
        best = max(_f1(probs[:, c], targets[:, c], t) for t in grid)
        assert _f1(probs[:, c], targets[:, c], thresholds[c]) >= best - 1e-12


def test_multilabel_report_hand_computed_and_skips_one_class_tags():
    probs = np.array([[0.9, 0.2, 0.7], [0.6, 0.8, 0.1], [0.4, 0.3, 0.6], [0.1, 0.7, 0.2]])
    targets = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1], [0, 1, 1]])  # "calm" is on for every clip
    report = multilabel_report(probs, targets, [0.5, 0.5, 0.5], ["happy", "sad", "calm"])
    happy, sad, calm = (report["per_tag"][t] for t in ("happy", "sad", "calm"))
    assert happy["roc_auc"] == 1.0 and happy["pr_auc"] == 1.0 and happy["f1"] == 1.0
    # sad: positives score 0.8 and 0.7, negatives 0.2 and 0.3 -> separable too
    assert sad["roc_auc"] == 1.0 and sad["f1"] == 1.0 and sad["support"] == 2
    # calm has no negative: no AUC, named in the notes; F1 at 0.5 = 2 of 4 found, both right -> 2/3
    assert calm["roc_auc"] is None and calm["pr_auc"] is None and calm["f1"] == pytest.approx(2 / 3)
    assert report["macro_roc_auc"] == 1.0 and report["macro_pr_auc"] == 1.0
    assert report["macro_f1"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert report["micro_f1"] == pytest.approx(2 * 6 / (6 + 8))  # 6 predicted, all right; 8 true
    assert "calm" in report["notes"][0]

    # an imperfect tag: ROC-AUC = fraction of (positive, negative) pairs ranked right = 3/4
    probs = np.array([[0.9], [0.3], [0.5], [0.1]])
    report = multilabel_report(probs, np.array([[1], [1], [0], [0]]), [0.5], ["x"])
    assert report["macro_roc_auc"] == pytest.approx(0.75)
    assert report["macro_pr_auc"] == pytest.approx((1 + 2 / 3) / 2)  # precision at each positive's rank


def test_format_report_shows_the_numbers():
    text = format_report(classification_report(Y_TRUE, Y_PRED, LABELS))
    assert "accuracy 0.667  (95% CI" in text and "macro F1 0.656" in text
    assert "rock" in text and "confusion (rows true, columns predicted)" in text
    probs = np.array([[0.9, 0.2], [0.6, 0.8], [0.4, 0.3]])
    ml = multilabel_report(probs, np.array([[1, 0], [1, 1], [0, 1]]), [0.5, 0.5], ["happy", "sad"])
    text = format_report(ml)
    assert "macro ROC-AUC 1.000" in text and "macro PR-AUC" in text and "happy" in text and "sad" in text
