"""What the track view shows per label, computed from a ``TrackAnalysis`` without Qt (so it is testable).

A canonical label's time curve is the max over its source tags' taggram rows, for the same reason its
track score is the max over them (``Vocabulary.canonical_scores``): synonyms are alternative names for one
idea, and the strongest evidence counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from musictagger.analysis import TrackAnalysis
from musictagger.taxonomy import ScoredLabel, SelectionPolicy, Vocabulary

# What the side panel suggests: a little wider than what the CLI writes (top 3), so a user sees runner-ups.
SUGGESTION_POLICY = SelectionPolicy(top_n=5, min_score=0.1)


@dataclass(frozen=True)
class LabelRow:
    key: str  # stable identity: "canonical:Metal", "raw:MSD_musicnn:heavy metal"
    name: str  # what the user reads
    score: float  # track-level score
    row: np.ndarray  # (n_patches,) probability per patch
    canonical: bool


def _model_short_name(model: str) -> str:
    return model.split("_")[0]


def raw_label_rows(analysis: TrackAnalysis) -> list[LabelRow]:
    """Every raw tag of every model, best first; a tag two models share is suffixed with the model."""
    counts = Counter(label for scores in analysis.models.values() for label in scores.labels)
    rows = []
    for model, scores in analysis.models.items():
        for index, label in enumerate(scores.labels):
            name = f"{label} ({_model_short_name(model)})" if counts[label] > 1 else label
            rows.append(
                LabelRow(
                    key=f"raw:{model}:{label}",
                    name=name,
                    score=float(scores.scores[index]),
                    row=np.asarray(scores.taggram[:, index], dtype=np.float32),
                    canonical=False,
                )
            )
    return sorted(rows, key=lambda r: (-r.score, r.name))


def canonical_label_rows(analysis: TrackAnalysis, vocabulary: Vocabulary) -> list[LabelRow]:
    """Canonical labels whose models ran, best first.

    A label fed by a head (a calibrated genre or DJ mood) has no per-patch curve of its own: its score is
    the head's, and its curve and overlay follow the raw tags that hint at it (``hints``). A head label
    with no hint is not offered for the overlay yet.
    """
    scores_by_source = analysis.label_scores()
    track_scores = vocabulary.canonical_scores(scores_by_source)
    rows = []
    for label in vocabulary.labels:
        raw = {m: t for m, t in label.sources.items() if m in analysis.models} or {
            m: t for m, t in label.hints.items() if m in analysis.models
        }
        found = [
            (model, analysis.models[model].labels.index(tag))
            for model, tags in raw.items()
            for tag in tags
            if tag in analysis.models[model].labels
        ]
        if not found or (label.name not in track_scores and not label.hints):
            continue
        curves = [analysis.models[model].taggram[:, index] for model, index in found]
        score = track_scores.get(label.name)
        if score is None:
            score = max(float(analysis.models[model].scores[index]) for model, index in found)
        rows.append(
            LabelRow(
                key=f"canonical:{label.name}",
                name=label.name,
                score=float(score),
                row=np.max(np.stack(curves), axis=0).astype(np.float32),
                canonical=True,
            )
        )
    return sorted(rows, key=lambda r: (-r.score, r.name))


def suggestions(analysis: TrackAnalysis, vocabulary: Vocabulary, category: str) -> list[ScoredLabel]:
    return vocabulary.select(analysis.label_scores(), category, SUGGESTION_POLICY)


def upsample_over_time(
    row: np.ndarray, patch_starts_s: np.ndarray, patch_seconds: float, n_frames: int, frame_seconds: float
) -> np.ndarray:
    """A per-patch curve resampled to one value per spectrogram frame (linear between patch centres).

    Frames before the first or after the last patch centre keep the nearest patch's value, so the overlay
    covers the whole spectrogram, including the tail that no whole patch reached.
    """
    centres = np.asarray(patch_starts_s, dtype=np.float64) + patch_seconds / 2
    frame_times = (np.arange(n_frames, dtype=np.float64) + 0.5) * frame_seconds
    return np.interp(frame_times, centres, np.asarray(row, dtype=np.float64)).astype(np.float32)
