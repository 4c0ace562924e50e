"""Train a head the honest way: cross-validate first, report, then fit on everything and save.

The numbers a user sees before saving (and that go into ``head.json``) come from out-of-fold predictions
of nested cross-validation: stratified folds, artist-disjoint when artists are known, the L2 strength
chosen inside each training part. Never from the tracks the saved head was fitted on.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from musictagger import __version__
from musictagger.head_training.calibration import (
    OutputCalibration,
    calibrate_predictions,
    calibration_error,
    decisions_of,
)
from musictagger.head_training.sources import TrainingTracks
from musictagger.head_training.training import cross_validate, fit_head, select_l2
from musictagger.heads.model import FEATURE_SETS, EmbeddingHead, HeadCard, head_input, label_matrix
from musictagger.research.datasets import (
    DatasetError,
    Example,
    LabelledSet,
    cross_validation_folds,
    describe_split,
)
from musictagger.research.metrics import choose_thresholds, classification_report, multilabel_report

__all__ = ["HeadTraining", "train_head"]


@dataclass
class HeadTraining:
    """A fitted head, its card (with the cross-validated metrics) and the out-of-fold predictions."""

    head: EmbeddingHead
    card: HeadCard
    oof_probs: np.ndarray
    targets: np.ndarray


def train_head(
    tracks: TrainingTracks,
    *,
    name: str,
    category: str,
    inputs: Sequence[str],
    features: str = "embedding",
    hidden: int = 0,
    folds: int = 5,
    seed: int = 0,
    source: str = "",
    licence: str = "",
    extra_provenance: dict[str, Any] | None = None,
    on_fold: Callable[[int, int], None] | None = None,
) -> HeadTraining:
    """Cross-validate (``folds``-fold; leave-one-out when a label has fewer tracks than that), then fit
    on all of ``tracks``. Every label needs at least two tracks to be tested at all."""
    if features not in FEATURE_SETS:
        raise ValueError(f"features must be one of {FEATURE_SETS}")
    labels = tracks.label_names()
    if len(labels) < 2:
        raise ValueError(f"a head needs at least two labels with enough tracks; found {list(labels)}")
    multilabel = any(len(x) > 1 for x in tracks.labels)
    dim = sum(
        len(tracks.outputs[0][m].embedding)
        + (len(tracks.outputs[0][m].scores) if features != "embedding" else 0)
        for m in inputs
    )
    card = HeadCard(
        name=name,
        version="1",
        task="multilabel" if multilabel else "multiclass",
        labels=labels,
        category=category,
        inputs=tuple(inputs),
        features=features,
        input_dim=dim,
        hidden=hidden,
    )
    x = np.stack([head_input(card, outputs) for outputs in tracks.outputs])
    if multilabel:
        y = label_matrix(tracks.labels, labels)
    else:
        index = {label: i for i, label in enumerate(labels)}
        y = np.array([index[x[0]] for x in tracks.labels], dtype=np.int64)
    dataset = LabelledSet(
        name=name,
        examples=tuple(
            Example(path=p, labels=lab, artist=a)
            for p, lab, a in zip(tracks.paths, tracks.labels, tracks.artists, strict=True)
        ),
        labels=labels,
        multilabel=multilabel,
    )
    try:
        split = cross_validation_folds(dataset, k=folds, seed=seed)
        protocol = describe_split(dataset, split, seed)
    except DatasetError:
        # A label with fewer tracks than folds (a DJ's first five "Warm-up" tracks, GTZAN-mini's two disco
        # clips): leave one out still tests every track on a head that never saw it (or its artist).
        split = _leave_one_out(dataset)
        unit = "artist" if all(e.artist for e in dataset.examples) else "track"
        fewest = min(dataset.label_counts().values())
        protocol = (
            f"leave-one-{unit}-out cross-validation ({len(split)} folds; {folds}-fold needs {folds} tracks "
            f"per label, the smallest label has {fewest}), {len(dataset)} examples"
        )
    cv = cross_validate(x, y, split, multilabel=multilabel, hidden=hidden, seed=seed, on_fold=on_fold)
    # Calibration, as the shipped heads have it: the fitted head's probabilities are class-balanced (a rare
    # label is not learnt as "never") and so not the data's own odds. The map is fitted on the out-of-fold
    # decisions; the figures come from calibrated out-of-fold probabilities, each fold's map fitted on the
    # other folds' predictions (cross-fitting: no track calibrates its own score).
    decisions = decisions_of(cv.probs, multilabel)
    calibration = calibrate_predictions(decisions, y, multilabel)
    calibrated = _cross_fitted(decisions, y, split, multilabel, fallback=cv.probs)
    metrics = _metrics(calibrated, y, labels, multilabel, seed)
    metrics["calibration_error"] = {
        "before": _calibration_error(cv.probs, y, multilabel),
        "after": _calibration_error(calibrated, y, multilabel),
        "measured_on": "out-of-fold probabilities; the calibration map cross-fitted",
    }
    metrics.update(
        protocol=f"nested {protocol}; L2 chosen per fold by an inner cross-validation on that fold's "
        "training tracks",
        n_tracks=len(x),
        folds=len(split),
        l2_per_fold=cv.l2_per_fold,
    )
    l2 = select_l2(x, y, multilabel=multilabel, hidden=hidden, seed=seed)
    head = fit_head(x, y, multilabel=multilabel, hidden=hidden, l2=l2, seed=seed, n_labels=len(labels))
    _fold_into_last_layer(head, calibration)
    counts = {label: int(sum(label in t for t in tracks.labels)) for label in labels}
    provenance: dict[str, Any] = {
        "source": source,
        "tracks_per_label": counts,
        "labels_left_out": dict(tracks.dropped),
        "files_failed": len(tracks.errors),
        "l2": l2,
        "seed": seed,
        "folds_requested": folds,
        **(extra_provenance or {}),
        "trained": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "musictagger": __version__,
    }
    if multilabel:
        metrics["thresholds"] = {
            lab: float(t) for lab, t in zip(labels, metrics.pop("_thresholds"), strict=True)
        }
    method = "temperature scaling" if calibration.method == "temperature" else "Platt scaling per label"
    card = HeadCard(
        **{
            **card.__dict__,
            "provenance": provenance,
            "metrics": metrics,
            "licence": licence,
            "calibration": {
                "method": f"{method} (scikit-learn CalibratedClassifierCV on the cross-validation's "
                "out-of-fold decisions, FrozenEstimator), folded into the last linear layer",
                "fitted_on": "the out-of-fold predictions of the cross-validation reported in metrics",
                "version": 1,
            },
        }
    )
    return HeadTraining(head=head, card=card, oof_probs=calibrated, targets=y)


def _cross_fitted(
    decisions: np.ndarray,
    y: np.ndarray,
    split: Sequence[tuple[np.ndarray, np.ndarray]],
    multilabel: bool,
    fallback: np.ndarray,
) -> np.ndarray:
    """Calibrated out-of-fold probabilities: each test part through a map fitted on the rest. A part whose
    rest lacks a class (leave-one-out on a label of two artists) keeps its uncalibrated probabilities,
    which can only make the reported calibration look worse, never better (a multi-label column with one
    outcome in the rest is left as it is by the map itself)."""
    out = np.array(fallback, dtype=float, copy=True)
    for train, test in split:
        if not multilabel and len(np.unique(y[train])) < decisions.shape[1]:
            continue
        fold_map = calibrate_predictions(decisions[train], y[train], multilabel)
        out[test] = fold_map.probabilities(decisions[test])
    return out


def _calibration_error(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    """ECE of every label probability (multi-label) or of the top class (single-label)."""
    if multilabel:
        return round(calibration_error(probs, y), 4)
    return round(calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y), 4)


def _fold_into_last_layer(head: EmbeddingHead, calibration: OutputCalibration) -> None:
    """The calibration is affine in the logits: the last linear layer absorbs it exactly."""
    last = head.classifier[-1]
    scale = torch.as_tensor(calibration.scale, dtype=last.weight.dtype)
    shift = torch.as_tensor(calibration.shift, dtype=last.bias.dtype)
    with torch.no_grad():
        last.weight.mul_(scale[:, None])
        last.bias.mul_(scale).add_(shift)


def _leave_one_out(dataset: LabelledSet) -> list[tuple[np.ndarray, np.ndarray]]:
    """One fold per artist when every track has one (no artist on both sides), else one per track."""
    n = len(dataset.examples)
    if all(e.artist for e in dataset.examples):
        keys = [e.artist.casefold() for e in dataset.examples]
    else:
        keys = [str(i) for i in range(n)]
    out = []
    for key in dict.fromkeys(keys):
        test = np.array([i for i in range(n) if keys[i] == key], dtype=np.int64)
        train = np.array([i for i in range(n) if keys[i] != key], dtype=np.int64)
        out.append((train, test))
    return out


def _metrics(probs: np.ndarray, y: np.ndarray, labels: Sequence[str], multilabel: bool, seed: int) -> dict:
    if multilabel:
        thresholds = choose_thresholds(probs, y)
        report = multilabel_report(probs, y, thresholds, list(labels))
        report["_thresholds"] = list(thresholds)
        report.setdefault("notes", []).append(
            "per-tag thresholds were chosen on these out-of-fold predictions, so F1 is optimistic; "
            "the AUCs do not depend on thresholds"
        )
        return report
    return classification_report(y, probs.argmax(axis=1), list(labels), seed=seed)
