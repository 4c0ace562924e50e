"""Calibrated heads: scikit-learn fits and calibrates a logistic regression; the result is folded into an
``EmbeddingHead`` so the app runs it as before (a linear layer in safetensors, no pickles).

Why folding is exact: Platt scaling turns a logistic regression's decision value ``f = w·z + b`` into
``sigmoid(-(A·f + B))`` and temperature scaling turns multiclass logits ``f`` into ``softmax(β·f)``. Both
are affine maps of the logits, so a calibrated logistic regression *is* a logistic regression with
rescaled weights: the saved head outputs calibrated probabilities with no extra code at run time.

Honesty of the numbers: every figure reported comes from nested, group-disjoint cross-validation (an
artist never sits on both sides of a split). Inside each outer fold the L2 strength, the calibration map
and the per-label write thresholds are chosen on the training part only, then the outer test part is
predicted; the reported calibration error, precision and accuracy are measured on those predictions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "ALPHA_GRID",
    "C_GRID",
    "LabelReport",
    "LinearMap",
    "OutputCalibration",
    "calibrate_predictions",
    "calibration_error",
    "decisions_of",
    "fit_binary",
    "fit_multiclass",
    "fit_regression",
    "group_splits",
    "pick_threshold",
]

# Inverse L2 strengths tried for each label (on standardised 400-d embeddings, a few hundred tracks).
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
ALPHA_GRID = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
# A label is written only when a threshold reaches its stated precision on at least this many tracks;
# fewer would make the precision a coin toss.
MIN_PREDICTED = 8


@dataclass(frozen=True)
class LinearMap:
    """Raw features -> logits (or values): ``features @ weight.T + bias``. What an EmbeddingHead holds,
    before its standardisation is put back in (see ``heads.model.head_from_linear``)."""

    weight: np.ndarray  # (n_out, d)
    bias: np.ndarray  # (n_out,)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return np.atleast_2d(features) @ self.weight.T + self.bias


@dataclass
class LabelReport:
    """Out-of-fold figures for one label of a calibrated head."""

    label: str
    n: int
    positives: int
    roc_auc: float
    pr_auc: float
    threshold: float  # chosen on all the data (what ships); 1.0 = never written
    precision_at_threshold: float  # out-of-fold, with the thresholds each fold chose on its training part
    recall_at_threshold: float
    written: int  # out-of-fold predictions at or above their fold's threshold
    details: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "n": self.n,
            "positives": self.positives,
            "roc_auc": round(self.roc_auc, 4),
            "pr_auc": round(self.pr_auc, 4),
            "threshold": round(self.threshold, 4),
            "precision_at_threshold": round(self.precision_at_threshold, 4),
            "recall_at_threshold": round(self.recall_at_threshold, 4),
            "written_out_of_fold": self.written,
            **self.details,
        }


def group_splits(
    y: np.ndarray, groups: Sequence[str], n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified splits that keep each group (an artist, or a clip) on one side."""
    y = np.asarray(y)
    groups = np.asarray(groups)
    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    n_splits = max(2, min(n_splits, smallest, len(set(groups.tolist()))))
    if y.ndim == 1 and smallest >= n_splits:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y, groups))
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(y)), y, groups))


def _classifier(c: float) -> Pipeline:
    # class_weight="balanced" keeps a rare label from being learnt as "never"; the calibration that
    # follows puts the probabilities back on the data's own base rate.
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


def _select_c(x: np.ndarray, y: np.ndarray, splits, scoring: str) -> tuple[float, np.ndarray]:
    """The C of C_GRID whose out-of-fold decision values score best, and those decision values."""
    best = None
    for c in C_GRID:
        decision = cross_val_predict(_classifier(c), x, y, cv=splits, method="decision_function")
        if scoring == "roc_auc":
            score = roc_auc_score(y, decision)
        else:  # multiclass: accuracy of the top logit
            score = float(np.mean(np.argmax(decision, axis=1) == y))
        if best is None or score > best[0] + 1e-9:
            best = (score, c, decision)
    assert best is not None
    return best[1], best[2]


def pick_threshold(probs: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest probability at which the tracks scoring at or above it are right at least
    ``precision`` of the time (and are at least MIN_PREDICTED); 1.0 when no threshold gets there."""
    order = np.argsort(-probs, kind="stable")
    hits = np.cumsum(y[order])
    counts = np.arange(1, len(order) + 1)
    ok = (hits / counts >= precision) & (counts >= MIN_PREDICTED)
    # Ties: a threshold admits every track with the same probability, so only the last of a run counts.
    last_of_run = np.r_[probs[order][1:] != probs[order][:-1], True]
    ok &= last_of_run
    if not ok.any():
        return 1.0
    return float(probs[order][np.flatnonzero(ok).max()])


def _binary_fit(x: np.ndarray, y: np.ndarray, groups, seed: int) -> tuple[LinearMap, np.ndarray]:
    """Calibrated (Platt) logistic regression on all of ``x``; also the out-of-fold calibrated
    probabilities its calibration was fitted on (for choosing thresholds)."""
    splits = group_splits(y, groups, 5, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        c, decision = _select_c(x, y, splits, "roc_auc")
        calibrated = CalibratedClassifierCV(_classifier(c), method="sigmoid", cv=splits, ensemble=False).fit(
            x, y
        )
    fitted = calibrated.calibrated_classifiers_[0]
    sigmoid = fitted.calibrators[0]
    scaler, logistic = fitted.estimator[0], fitted.estimator[-1]
    # f = w·(x - mean)/scale + b;  p = sigmoid(-(a f + b'))  ->  logit = (-a w / scale)·x + ...
    w = logistic.coef_[0] / scaler.scale_
    b = logistic.intercept_[0] - float(w @ scaler.mean_)
    weight = -sigmoid.a_ * w
    bias = -(sigmoid.a_ * b + sigmoid.b_)
    oof = sigmoid.predict(decision)
    return LinearMap(weight[None, :], np.array([bias])), oof


def fit_binary(
    label: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    precision: float,
    seed: int = 0,
    n_splits: int = 5,
) -> tuple[LinearMap, float, LabelReport, np.ndarray]:
    """One label: the calibrated map and threshold to ship, its out-of-fold report, and the out-of-fold
    calibrated probabilities (nested: each outer fold fitted and thresholded on its training part)."""
    y = np.asarray(y, dtype=int)
    oof = np.zeros(len(y))
    chosen = np.ones(len(y))
    for k, (train, test) in enumerate(group_splits(y, groups, n_splits, seed)):
        linear, inner = _binary_fit(x[train], y[train], np.asarray(groups)[train], seed + k + 1)
        oof[test] = expit(linear(x[test])[:, 0])
        chosen[test] = pick_threshold(inner, y[train], precision)
    linear, inner = _binary_fit(x, y, groups, seed)
    threshold = pick_threshold(inner, y, precision)
    written = oof >= chosen
    report = LabelReport(
        label=label,
        n=len(y),
        positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, oof)),
        pr_auc=float(average_precision_score(y, oof)),
        threshold=threshold,
        precision_at_threshold=float(y[written].mean()) if written.any() else float("nan"),
        recall_at_threshold=float(written[y == 1].mean()),
        written=int(written.sum()),
    )
    return linear, threshold, report, oof


def _multiclass_fit(x: np.ndarray, y: np.ndarray, groups, seed: int) -> LinearMap:
    splits = group_splits(y, groups, 5, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        c, _ = _select_c(x, y, splits, "accuracy")
        calibrated = CalibratedClassifierCV(
            _classifier(c), method="temperature", cv=splits, ensemble=False
        ).fit(x, y)
    fitted = calibrated.calibrated_classifiers_[0]
    beta = float(fitted.calibrators[0].beta_)
    scaler, logistic = fitted.estimator[0], fitted.estimator[-1]
    w = logistic.coef_ / scaler.scale_
    b = logistic.intercept_ - w @ scaler.mean_
    return LinearMap(beta * w, beta * b)


def fit_multiclass(
    x: np.ndarray, y: np.ndarray, groups: Sequence[str], *, seed: int = 0, n_splits: int = 5
) -> tuple[LinearMap, np.ndarray]:
    """A temperature-scaled multinomial logistic regression on all the data, and the nested out-of-fold
    probabilities ``(n, n_classes)`` that measure it."""
    y = np.asarray(y, dtype=int)
    n_classes = int(y.max()) + 1
    oof = np.zeros((len(y), n_classes))
    for k, (train, test) in enumerate(group_splits(y, groups, n_splits, seed)):
        linear = _multiclass_fit(x[train], y[train], np.asarray(groups)[train], seed + k + 1)
        oof[test] = softmax(linear(x[test]), axis=1)
    return _multiclass_fit(x, y, groups, seed), oof


def _ridge_fit(x: np.ndarray, y: np.ndarray, groups, seed: int) -> LinearMap:
    strata = (y[:, 0] > 0).astype(int) * 2 + (y[:, 1] > 0).astype(int)
    splits = group_splits(strata, groups, 5, seed)
    best = None
    for alpha in ALPHA_GRID:
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
        predicted = cross_val_predict(model, x, y, cv=splits)
        error = float(np.mean((predicted - y) ** 2))
        if best is None or error < best[0]:
            best = (error, alpha)
    assert best is not None
    model = make_pipeline(StandardScaler(), Ridge(alpha=best[1])).fit(x, y)
    scaler, ridge = model[0], model[-1]
    w = np.atleast_2d(ridge.coef_) / scaler.scale_
    b = np.atleast_1d(ridge.intercept_) - w @ scaler.mean_
    return LinearMap(w, b)


def fit_regression(
    x: np.ndarray, y: np.ndarray, groups: Sequence[str], *, seed: int = 0, n_splits: int = 5
) -> tuple[LinearMap, np.ndarray]:
    """Ridge regression of ``y (n, k)`` (L2 chosen by inner group CV) on all the data, and nested
    out-of-fold predictions."""
    y = np.asarray(y, dtype=float)
    oof = np.zeros_like(y)
    strata = (y[:, 0] > 0).astype(int) * 2 + (y[:, 1] > 0).astype(int)
    for k, (train, test) in enumerate(group_splits(strata, groups, n_splits, seed)):
        linear = _ridge_fit(x[train], y[train], np.asarray(groups)[train], seed + k + 1)
        oof[test] = linear(x[test])
    return _ridge_fit(x, y, groups, seed), oof


def calibration_error(probs: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean gap between stated probability and observed frequency,
    over equal-width probability bins, weighted by how many predictions fall in each."""
    probs = np.asarray(probs, dtype=float).ravel()
    outcomes = np.asarray(outcomes, dtype=float).ravel()
    if len(probs) == 0:
        return float("nan")
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.sum() * abs(probs[inside].mean() - outcomes[inside].mean())
    return total / len(probs)


# -- calibrating a head fitted elsewhere (train-head) from its out-of-fold predictions ----------------------


class _GivenDecisions(ClassifierMixin, BaseEstimator):
    """A "classifier" whose decision values are its input: lets scikit-learn's CalibratedClassifierCV
    calibrate predictions already made out of fold by another model (wrapped in FrozenEstimator)."""

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, x):
        x = np.asarray(x, dtype=float)
        return x if x.shape[1] > 1 else x[:, 0]

    def predict(self, x):
        decision = self.decision_function(x)
        if decision.ndim > 1:
            return self.classes_[np.argmax(decision, axis=1)]
        return self.classes_[(decision > 0).astype(int)]


@dataclass(frozen=True)
class OutputCalibration:
    """An affine map of a head's logits, ``scale * logit + shift`` per output: temperature scaling (one
    scale for every class) or Platt scaling (a scale and a shift per label). Affine in the logits, so it
    folds exactly into the head's last linear layer."""

    method: str  # "temperature" or "sigmoid"
    scale: np.ndarray  # (n_out,)
    shift: np.ndarray  # (n_out,)

    def logits(self, decisions: np.ndarray) -> np.ndarray:
        return decisions * self.scale + self.shift

    def probabilities(self, decisions: np.ndarray) -> np.ndarray:
        calibrated = self.logits(decisions)
        return softmax(calibrated, axis=1) if self.method == "temperature" else expit(calibrated)


def decisions_of(probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """A head's logits back from its probabilities: per-label log-odds (multi-label) or log-probabilities
    (single-label; softmax does not see the per-track constant they differ from the logits by)."""
    clipped = np.clip(np.asarray(probs, dtype=float), 1e-7, 1 - 1e-7)
    return np.log(clipped / (1 - clipped)) if multilabel else np.log(clipped)


def _whole(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """One "split" holding every track on both sides: the frozen decisions need no folds (they were made
    out of fold already), and a label of two tracks would not stand stratified ones."""
    every = np.arange(len(y))
    return [(every, every)]


def calibrate_predictions(decisions: np.ndarray, y: np.ndarray, multilabel: bool) -> OutputCalibration:
    """Temperature scaling (single-label, ``y`` class indices) or Platt scaling per label (multi-label,
    ``y`` 0/1 columns) fitted by scikit-learn's CalibratedClassifierCV on decision values made out of fold.
    A label with one outcome only (never or always) keeps its logits as they are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if not multilabel:
            # Two classes: scikit-learn calibrates one decision value, the margin; softmax(β·logits) is
            # sigmoid(β·margin), so the same β scales both logits.
            given_decisions = decisions[:, 1:] - decisions[:, :1] if decisions.shape[1] == 2 else decisions
            given = FrozenEstimator(_GivenDecisions().fit(given_decisions, y))
            fitted = CalibratedClassifierCV(given, method="temperature", cv=_whole(y)).fit(given_decisions, y)
            beta = float(fitted.calibrated_classifiers_[0].calibrators[0].beta_)
            n = decisions.shape[1]
            return OutputCalibration("temperature", np.full(n, beta), np.zeros(n))
        scale, shift = np.ones(decisions.shape[1]), np.zeros(decisions.shape[1])
        for j in range(decisions.shape[1]):
            column, outcome = decisions[:, j : j + 1], np.asarray(y)[:, j]
            if len(np.unique(outcome)) < 2:
                continue
            given = FrozenEstimator(_GivenDecisions().fit(column, outcome))
            sigmoid = CalibratedClassifierCV(given, method="sigmoid", cv=_whole(outcome)).fit(column, outcome)
            platt = sigmoid.calibrated_classifiers_[0].calibrators[0]
            # scikit-learn's Platt map: p = 1 / (1 + exp(a f + b)), i.e. the logit -(a f + b).
            scale[j], shift[j] = -platt.a_, -platt.b_
        return OutputCalibration("sigmoid", scale, shift)
