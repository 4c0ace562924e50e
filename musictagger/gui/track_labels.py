"""What the track view shows per label, computed from a ``TrackAnalysis`` without Qt (so it is testable).

A canonical label's time curve is the max over its source tags' taggram rows, for the same reason its
track score is the max over them (``Vocabulary.canonical_scores``): synonyms are alternative names for one
idea, and the strongest evidence counts. A label a head scores (a genre family, a DJ mood, energy) has no
per-patch curve in the analysis: it borrows the curve of the raw tags that hint at it, or is flat at its
score, until its explanation (through the head, ``explain.head_net``) replaces it.

The overlay selector offers every label the track carries, in groups a DJ reads (``overlay_groups``):
genres, moods, energy and valence, styles, descriptors, …, then every raw model tag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from musictagger.analysis import TrackAnalysis
from musictagger.explain import LOWERS
from musictagger.explain.describe import format_value
from musictagger.library.labelling import STYLE_HINT
from musictagger.taxonomy import ScoredLabel, SelectionPolicy, Vocabulary

# What the side panel suggests: a little wider than what the CLI writes (top 3), so a user sees runner-ups.
SUGGESTION_POLICY = SelectionPolicy(top_n=5, min_score=0.1)

DIMENSIONS = "dimension"  # the group of a regression head's values (energy, valence)
RAW = "raw"  # the group of raw model tags
# Selector groups, in the order a DJ reads them: what gets written first, then hints, then raw tags.
GROUP_TITLES = {
    "genre": "Genres",
    "mood": "Moods",
    DIMENSIONS: "Energy & valence",
    "style": "Styles",
    "descriptor": "Descriptors",
    "era": "Eras",
    "instrument/voice": "Instruments & voices",
    "other": "Other",
    RAW: "Raw model tags",
}
CONFIDENT_MARK = "✓"


@dataclass(frozen=True)
class LabelRow:
    key: (
        str  # stable identity: "canonical:Metal", "raw:MSD_musicnn:heavy metal", "head:energy_valence:energy"
    )
    name: str  # what the user reads; an explanation's sentence starts with it
    score: float  # track-level score (a regression output: its value)
    row: np.ndarray  # (n_patches,) probability per patch (0..1)
    canonical: bool
    group: str = RAW  # a vocabulary category, DIMENSIONS or RAW (GROUP_TITLES)
    confident: bool = False  # written (a genre or mood at its calibrated threshold) or a style hint

    @property
    def text(self) -> str:
        """The selector's entry: "Dark  72 %  ✓", "Energy 7.6 (what raises it)", "guitar (raw)  41 %"."""
        if self.group == DIMENSIONS:
            return self.name
        if self.group == RAW:
            return f"{self.name} (raw)  {self.score:.0%}"
        return f"{self.name}  {self.score:.0%}" + (f"  {CONFIDENT_MARK}" if self.confident else "")


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


def _confident(vocabulary: Vocabulary, category: str, name: str, score: float) -> bool:
    """As the library labels a track: a genre or mood at its calibrated write threshold, a style from
    STYLE_HINT."""
    if category == "style":
        return score >= STYLE_HINT
    return category in ("genre", "mood") and vocabulary.passes(name, score, None)


def canonical_label_rows(analysis: TrackAnalysis, vocabulary: Vocabulary) -> list[LabelRow]:
    """Canonical labels whose sources (a head's output or raw tags) or hints ran, best first.

    A label fed by a head (a calibrated genre or DJ mood) has no per-patch curve of its own: its score is
    the head's, and its curve follows the raw tags that hint at it (``hints``), or stays flat at the
    score where none does; its explanation goes through the head.
    """
    n_patches = len(analysis.patch_starts_s)
    track_scores = vocabulary.canonical_scores(analysis.label_scores())
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
        score = track_scores.get(label.name)
        if score is None and found:  # only hints ran: the best hint's score
            score = max(float(analysis.models[model].scores[index]) for model, index in found)
        if score is None:
            continue
        curves = [analysis.models[model].taggram[:, index] for model, index in found]
        curve = np.max(np.stack(curves), axis=0) if curves else np.full(n_patches, score)
        rows.append(
            LabelRow(
                key=f"canonical:{label.name}",
                name=label.name,
                score=float(score),
                row=curve.astype(np.float32),
                canonical=True,
                group=label.category,
                confident=_confident(vocabulary, label.category, label.name, float(score)),
            )
        )
    return sorted(rows, key=lambda r: (-r.score, r.name))


def dimension_rows(analysis: TrackAnalysis) -> list[LabelRow]:
    """Each value of a regression head (energy, valence) twice: what raises it and what lowers it. The
    row's name is the explanation sentence's heading ("Energy 7.6 (what raises it)"); the curve is flat at
    the value's place on its scale."""
    rows = []
    n_patches = len(analysis.patch_starts_s)
    for head, scores in analysis.heads.items():
        if scores.task != "regression":
            continue
        for output, value in zip(scores.labels, scores.probs, strict=True):
            value_range = scores.ranges.get(output)
            low, high = value_range or (0.0, 1.0)
            place = float(np.clip((value - low) / (high - low), 0.0, 1.0))
            title = f"{output[:1].upper()}{output[1:]} {format_value(float(value), value_range)}"
            for suffix, direction in (("", "raises"), (LOWERS, "lowers")):
                rows.append(
                    LabelRow(
                        key=f"head:{head}:{output}{suffix}",
                        name=f"{title} (what {direction} it)",
                        score=float(value),
                        row=np.full(n_patches, place, dtype=np.float32),
                        canonical=False,
                        group=DIMENSIONS,
                    )
                )
    return rows


def overlay_groups(
    canonical: list[LabelRow], dimensions: list[LabelRow], raw: list[LabelRow]
) -> list[tuple[str, list[LabelRow]]]:
    """``(title, rows)`` per selector group in GROUP_TITLES' order, empty groups left out; within a group
    the labels the track carries (``confident``) first, then best first."""
    by_group: dict[str, list[LabelRow]] = {group: [] for group in GROUP_TITLES}
    for row in [*canonical, *dimensions, *raw]:
        by_group.setdefault(row.group, []).append(row)
    groups = []
    for group, rows in by_group.items():
        if group not in (DIMENSIONS, RAW):
            rows = sorted(rows, key=lambda r: (not r.confident, -r.score, r.name))
        if rows:
            groups.append((GROUP_TITLES.get(group, group.capitalize()), rows))
    return groups


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
