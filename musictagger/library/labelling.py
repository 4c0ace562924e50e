"""A track's labels, energy and valence in the index, from its stored analyses and the heads.

Labels are derived data: the vocabulary maps the taggers' raw tags and the heads' calibrated outputs to
canonical labels (taxonomy.py). The heads run on the stored embeddings, so when a vocabulary or a head
changes (a new release, a head the user trained) every analysed track is relabelled without decoding
audio: ``relabel_if_stale`` compares the basis the index was labelled with (a digest of the vocabulary
and of every head's card and weights) and rebuilds when it differs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from musictagger.catalog import load_card, model_dirs
from musictagger.errors import ModelError
from musictagger.heads.model import (
    HEAD_CARD,
    WEIGHTS_FILE,
    EmbeddingHead,
    HeadCard,
    available_heads,
    head_input,
    load_head,
    predict,
)
from musictagger.library.schema import Analysis, Meta, Track, TrackLabel
from musictagger.taxonomy import Vocabulary

log = logging.getLogger(__name__)

# Labels are stored down to this score, so the app can apply the user's own (higher) threshold later
# without re-analysing; below it a label is noise.
LABEL_FLOOR = 0.05
LABEL_CATEGORIES = ("genre", "style", "mood", "descriptor", "era", "instrument/voice")
# A style is a raw tagger score (no labelled data to calibrate it): shown as a hint from this score up.
STYLE_HINT = 0.3
_BASIS_KEY = "labels_basis"
_CHUNK = 200

# {head name: {label: value}} for one track
HeadOutputs = dict[str, dict[str, float]]


class _Stored(NamedTuple):
    """A stored analysis as a head reads it (heads.model.ModelOutputs)."""

    embedding: np.ndarray
    scores: np.ndarray


class Heads:
    """The available heads, loaded once, run on a track's stored analyses."""

    def __init__(self) -> None:
        self.loaded: dict[str, tuple[EmbeddingHead, HeadCard]] = {}
        self._orders: dict[str, tuple[str, ...]] = {}
        for name in available_heads():
            try:
                head, card = load_head(name)
                for model in card.inputs:
                    self._orders.setdefault(model, tuple(load_card(model).labels))
            except ModelError as exc:
                log.warning("head %s left out: %s", name, exc)
                continue
            self.loaded[card.name] = (head, card)

    def run(self, analyses: Mapping[str, Analysis]) -> HeadOutputs:
        """Every head whose input models analysed the track: its labels' values."""
        outputs = {}
        for model, row in analyses.items():
            order = self._orders.get(model)
            if order is None or row.embedding is None:
                continue
            outputs[model] = _Stored(
                np.frombuffer(row.embedding, dtype=np.float32),
                np.array([float(row.scores.get(tag, 0.0)) for tag in order], dtype=np.float32),
            )
        found: HeadOutputs = {}
        for name, (head, card) in self.loaded.items():
            if all(model in outputs for model in card.inputs):
                values = predict(head, card, head_input(card, outputs))
                found[name] = {label: float(v) for label, v in zip(card.labels, values, strict=True)}
        return found

    def regression_heads(self) -> set[str]:
        return {name for name, (_, card) in self.loaded.items() if card.task == "regression"}


_shared: tuple[tuple, Heads] | None = None


def shared_heads() -> Heads:
    """One Heads per process, reloaded when a head folder's card or weights change (a head saved in the
    app): labelling a track must not load every head again."""
    global _shared
    key = tuple(
        (name, *(p.stat().st_mtime_ns for p in (folder / HEAD_CARD, folder / WEIGHTS_FILE) if p.exists()))
        for name, folder in _head_folders()
    )
    if _shared is None or _shared[0] != key:
        _shared = (key, Heads())
    return _shared[1]


def _head_folders() -> list[tuple[str, Path]]:
    found = []
    for root in model_dirs():
        if root.is_dir():
            found.extend((p.name, p) for p in sorted(root.iterdir()) if (p / HEAD_CARD).is_file())
    return found


def missing_head_outputs(track: Track, ran: HeadOutputs) -> tuple[HeadOutputs, set[str]]:
    """``ran`` completed with every available head that did not run on this track (a run with heads
    turned off still gets its calibrated genres, moods and energy), and the names of the regression
    heads among all of them."""
    heads = shared_heads()
    outputs = dict(ran)
    if set(heads.loaded) - set(ran):
        current = {row.model: row for row in track.analyses if row.fingerprint == track.fingerprint}
        for name, values in heads.run(current).items():
            outputs.setdefault(name, values)
    return outputs, heads.regression_heads()


def labelling_basis(vocabulary: Vocabulary) -> str:
    """A digest of everything labels are derived from besides the analyses themselves: the vocabulary
    file and every head's card and weights (read as bytes: no head is loaded to compute it)."""
    digest = hashlib.sha256()
    with open(vocabulary.path, "rb") as handle:
        digest.update(handle.read())
    for name, folder in _head_folders():
        digest.update(name.encode())
        for part in (HEAD_CARD, WEIGHTS_FILE):
            try:
                digest.update((folder / part).read_bytes())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def rebuild_labels(
    track: Track,
    vocabulary: Vocabulary,
    head_outputs: HeadOutputs,
    regression: set[str] | frozenset[str] = frozenset(),
) -> None:
    """The track's TrackLabel rows (every canonical label of LABEL_CATEGORIES at LABEL_FLOOR or above,
    ranked within its category, 1 = best) and its energy and valence, from its current analyses and
    ``head_outputs`` (Heads.run, or a fresh analysis's own head results).

    Analyses of other audio (another fingerprint) are left out: they describe what the file no longer
    holds. Rows are updated in place, so the (track, category, label) key never collides mid-flush.
    """
    raw = {row.model: row.scores for row in track.analyses if row.fingerprint == track.fingerprint}
    raw.update((name, values) for name, values in head_outputs.items() if name not in regression)
    dimensions = {k: v for name in regression for k, v in head_outputs.get(name, {}).items()}
    track.energy = dimensions.get("energy")
    track.valence = dimensions.get("valence")
    scores = vocabulary.canonical_scores(raw)
    category_of = {label.name: label.category for label in vocabulary.labels}
    wanted: dict[tuple[str, str], tuple[float, int, bool]] = {}
    for category in LABEL_CATEGORIES:
        ranked = sorted(
            ((name, score) for name, score in scores.items() if category_of[name] == category),
            key=lambda item: (-item[1], item[0]),
        )
        kept = [(name, score) for name, score in ranked if score >= LABEL_FLOOR]
        for rank, (name, score) in enumerate(kept, start=1):
            wanted[(category, name)] = (score, rank, _confident(vocabulary, category, name, score))
    for row in list(track.labels):
        key = (row.category, row.label)
        if key in wanted:
            row.score, row.rank, row.confident = wanted.pop(key)
        else:
            track.labels.remove(row)
    for (category, name), (score, rank, confident) in wanted.items():
        track.labels.append(
            TrackLabel(category=category, label=name, score=score, rank=rank, confident=confident)
        )


def _confident(vocabulary: Vocabulary, category: str, name: str, score: float) -> bool:
    if category == "style":
        return score >= STYLE_HINT
    return category in ("genre", "mood") and vocabulary.passes(name, score, None)


def relabel_if_stale(session: Session, vocabulary: Vocabulary, heads: Heads | None = None) -> int:
    """Rebuild every analysed track's labels when the vocabulary or a head changed since the index was
    last labelled; commits. Returns how many tracks were relabelled (0: the labels were current)."""
    basis = labelling_basis(vocabulary)
    stored = session.get(Meta, _BASIS_KEY)
    if stored is not None and stored.value == basis:
        return 0
    heads = heads or shared_heads()
    regression = heads.regression_heads()
    ids = list(session.scalars(select(Track.id).where(Track.analyses.any()).order_by(Track.id)))
    for start in range(0, len(ids), _CHUNK):
        tracks = session.scalars(select(Track).where(Track.id.in_(ids[start : start + _CHUNK])))
        for track in tracks:
            current = {row.model: row for row in track.analyses if row.fingerprint == track.fingerprint}
            rebuild_labels(track, vocabulary, heads.run(current), regression)
        session.flush()
    if stored is None:
        session.add(Meta(key=_BASIS_KEY, value=basis))
    else:
        stored.value = basis
    session.commit()
    if ids:
        log.info("relabelled %d tracks (vocabulary or heads changed)", len(ids))
    return len(ids)
