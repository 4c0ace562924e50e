"""Calibrated heads: scikit-learn's calibration folded into the saved linear head, thresholds for a stated
precision, honest (nested, group-disjoint) out-of-fold figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictagger.errors import ModelError
from musictagger.head_training.calibration import (
    calibrate_predictions,
    calibration_error,
    decisions_of,
    fit_binary,
    fit_multiclass,
    fit_regression,
    group_splits,
    pick_threshold,
)
from musictagger.heads.model import HeadCard, head_from_linear, load_head, predict, save_head


def _card(name, task, labels, category, input_dim, **extra) -> HeadCard:
    return HeadCard(
        name=name,
        version="1",
        task=task,
        labels=labels,
        category=category,
        inputs=("MSD_musicnn",),
        features="embedding",
        input_dim=input_dim,
        hidden=0,
        **extra,
    )


def _data(n=240, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d) * 5
    signal = (x[:, 0] - x[:, 0].mean()) / x[:, 0].std() + 0.5 * (x[:, 1] - x[:, 1].mean()) / x[:, 1].std()
    groups = [f"artist{i // 3}" for i in range(n)]  # three tracks per artist
    return x, signal, groups, rng


def test_group_splits_keep_each_artist_on_one_side():
    _, signal, groups, _ = _data()
    y = (signal > 0).astype(int)
    for train, test in group_splits(y, groups, 5, seed=0):
        assert not {groups[i] for i in train} & {groups[i] for i in test}


def test_binary_head_saved_as_safetensors_gives_the_calibrated_probabilities(tmp_path):
    x, signal, groups, rng = _data()
    y = (signal + rng.normal(scale=0.8, size=len(signal)) > 0).astype(int)
    linear, threshold, report, oof = fit_binary("A", x, y, groups, precision=0.8)
    assert 0.5 < report.roc_auc <= 1.0
    assert 0.0 < threshold < 1.0
    # Out-of-fold calibrated probabilities are calibrated: the gap is small on 240 noisy examples.
    assert calibration_error(oof, y) < 0.12
    # Fold the calibrated map into a head, save it, load it: the head's sigmoid is the calibrated map.
    head = head_from_linear(np.vstack([linear.weight, linear.weight]), np.r_[linear.bias, linear.bias], x)
    card = _card(
        "cal",
        "multilabel",
        ("A", "B"),
        "mood",
        x.shape[1],
        calibration={"method": "sigmoid", "thresholds": {"A": threshold, "B": threshold}},
    )
    save_head(tmp_path / "cal", head, card)
    loaded, loaded_card = load_head(tmp_path / "cal")
    probs = predict(loaded, loaded_card, x.astype(np.float32))[:, 0]
    expected = 1 / (1 + np.exp(-linear(x)[:, 0]))
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    assert loaded_card.thresholds == {"A": pytest.approx(threshold), "B": pytest.approx(threshold)}


def test_pick_threshold_reaches_the_stated_precision_or_writes_nothing():
    probs = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4])
    truth = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0])
    t = pick_threshold(probs, truth, 0.8)
    admitted = probs >= t
    assert truth[admitted].mean() >= 0.8
    assert admitted.sum() >= 8
    # Nothing reaches 100 % precision on 8 or more tracks here: the label is never written.
    assert pick_threshold(probs, truth, 1.0) == 1.0


def test_multiclass_temperature_head_folds_exactly():
    x, signal, groups, rng = _data(n=300)
    y = np.digitize(signal + rng.normal(scale=0.5, size=len(signal)), [-0.7, 0, 0.7])
    linear, oof = fit_multiclass(x, y, groups)
    assert oof.shape == (len(y), 4)
    np.testing.assert_allclose(oof.sum(axis=1), 1, atol=1e-6)
    assert (oof.argmax(axis=1) == y).mean() > 0.5  # well above chance (0.25)
    head = head_from_linear(linear.weight, linear.bias, x)
    logits = head(__import__("torch").as_tensor(x, dtype=__import__("torch").float32)).detach().numpy()
    np.testing.assert_allclose(logits, linear(x), rtol=1e-3, atol=1e-3)


def test_regression_head_clips_to_its_ranges(tmp_path):
    x, signal, groups, _ = _data(n=200)
    y = np.stack([np.sign(signal), np.sign(x[:, 1] - x[:, 1].mean())], axis=1)
    linear, oof = fit_regression(x, y, groups)
    assert np.corrcoef(oof[:, 0], y[:, 0])[0, 1] > 0.5
    head = head_from_linear(linear.weight * 20, linear.bias * 20, x)  # exaggerated: must be clipped
    card = _card(
        "ev",
        "regression",
        ("energy", "valence"),
        "other",
        x.shape[1],
        ranges={"energy": (1.0, 10.0), "valence": (-1.0, 1.0)},
    )
    save_head(tmp_path / "ev", head, card)
    loaded, loaded_card = load_head(tmp_path / "ev")
    values = predict(loaded, loaded_card, x.astype(np.float32))
    assert values[:, 0].min() >= 1.0 and values[:, 0].max() <= 10.0
    assert values[:, 1].min() >= -1.0 and values[:, 1].max() <= 1.0
    assert (values[:, 1] == -1.0).any() and (values[:, 1] == 1.0).any()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"calibration": {"thresholds": {"C": 0.5}}}, "calibration thresholds"),
        ({"calibration": {"thresholds": {"A": 1.5}}}, "calibration thresholds"),
        ({"ranges": {"A": [2, 1]}}, "range of 'A'"),
        ({"task": "ranking"}, "unknown task"),
    ],
)
def test_a_bad_calibration_in_a_card_is_refused_by_name(tmp_path, change, message):
    x, *_ = _data(n=30)
    head = head_from_linear(np.zeros((2, x.shape[1])), np.zeros(2), x)
    card = _card("bad", "multilabel", ("A", "B"), "mood", x.shape[1])
    folder = save_head(tmp_path / "bad", head, card)
    data = json.loads((folder / "head.json").read_text())
    data.update(change)
    (folder / "head.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=message):
        load_head(folder)


def _overconfident(rng, n=600, classes=4):
    """Class-index targets and the logits of a model that is right 70 % of the time but says 97 %."""
    y = rng.integers(0, classes, n)
    top = np.where(rng.random(n) < 0.7, y, rng.integers(0, classes, n))
    logits = rng.normal(0, 0.3, (n, classes))
    logits[np.arange(n), top] += 6.0
    return y, logits


def test_a_head_fitted_elsewhere_is_calibrated_from_its_out_of_fold_predictions():
    rng = np.random.default_rng(0)
    y, logits = _overconfident(rng)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    before = calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y)
    fitted = calibrate_predictions(decisions_of(probs, multilabel=False), y[:], multilabel=False)
    assert fitted.method == "temperature" and (fitted.scale < 1).all() and not fitted.shift.any()
    calibrated = fitted.probabilities(decisions_of(probs, multilabel=False))
    after = calibration_error(calibrated.max(axis=1), calibrated.argmax(axis=1) == y)
    assert before > 0.2 and after < 0.05
    assert (calibrated.argmax(axis=1) == probs.argmax(axis=1)).all()  # the top class never moves

    # Multi-label: Platt scaling per label; a label with one outcome only is left as it was.
    outcomes = np.stack([rng.random(600) < 0.3, np.zeros(600, dtype=bool)], axis=1).astype(int)
    label_logits = np.stack(
        [np.where(outcomes[:, 0], 4.0, -1.0) + rng.normal(0, 2, 600), rng.normal(0, 1, 600)], 1
    )
    label_probs = 1 / (1 + np.exp(-label_logits))
    platt = calibrate_predictions(decisions_of(label_probs, True), outcomes, multilabel=True)
    assert platt.method == "sigmoid" and (platt.scale[1], platt.shift[1]) == (1.0, 0.0)
    calibrated = platt.probabilities(decisions_of(label_probs, True))
    assert calibration_error(calibrated[:, 0], outcomes[:, 0]) < calibration_error(
        label_probs[:, 0], outcomes[:, 0]
    )


def test_a_trained_head_carries_its_calibration_in_the_last_layer(tmp_path):
    import torch

    from musictagger.head_training.build import _fold_into_last_layer
    from musictagger.head_training.calibration import OutputCalibration
    from musictagger.heads.model import EmbeddingHead

    for hidden in (0, 8):
        head = EmbeddingHead(5, 3, hidden=hidden).eval()
        x = torch.randn(7, 5)
        with torch.no_grad():
            before = head(x).numpy()
        calibration = OutputCalibration("sigmoid", np.array([0.5, 2.0, -1.0]), np.array([0.1, -0.3, 0.0]))
        _fold_into_last_layer(head, calibration)
        with torch.no_grad():
            after = head(x).numpy()
        np.testing.assert_allclose(after, calibration.logits(before), rtol=1e-5, atol=1e-5)


def test_two_classes_are_temperature_scaled_through_their_margin():
    rng = np.random.default_rng(1)
    y, logits = _overconfident(rng, classes=2)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    fitted = calibrate_predictions(decisions_of(probs, multilabel=False), y, multilabel=False)
    calibrated = fitted.probabilities(decisions_of(probs, multilabel=False))
    assert fitted.scale[0] == fitted.scale[1] < 1
    before = calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y)
    assert calibration_error(calibrated.max(axis=1), calibrated.argmax(axis=1) == y) < before
