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

from musictagger import __version__
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
    metrics = _metrics(cv.probs, y, labels, multilabel, seed)
    metrics.update(
        protocol=f"nested {protocol}; L2 chosen per fold by an inner cross-validation on that fold's "
        "training tracks",
        n_tracks=len(x),
        folds=len(split),
        l2_per_fold=cv.l2_per_fold,
    )
    l2 = select_l2(x, y, multilabel=multilabel, hidden=hidden, seed=seed)
    head = fit_head(x, y, multilabel=multilabel, hidden=hidden, l2=l2, seed=seed, n_labels=len(labels))
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
    card = HeadCard(**{**card.__dict__, "provenance": provenance, "metrics": metrics, "licence": licence})
    return HeadTraining(head=head, card=card, oof_probs=cv.probs, targets=y)


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
