"""What the library table, facets and mood map show, as plain queries on the index (no Qt here).

The table never asks for one row at a time: ``filtered_ids`` gives the ordered ids of every matching
track in one query (100,000 ints are cheap), and ``load_rows`` turns one page of those ids into display
rows with their labels, analysis state and write state in a fixed number of queries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session

from musictagger.catalog import load_card
from musictagger.errors import ModelError
from musictagger.head_training.sources import stored_outputs
from musictagger.heads.model import available_heads, head_input, load_head, mood_plane, predict
from musictagger.library.queries import ensure_fold_function, search_condition
from musictagger.library.schema import Analysis, Track, TrackLabel, WriteEntry
from musictagger.taxonomy import SelectionPolicy, Vocabulary

# The same rule the CLI and the track view use to call a label "suggested".
DISPLAY_POLICY = SelectionPolicy()
MIN_SCORE = DISPLAY_POLICY.min_score
TOP_N = DISPLAY_POLICY.top_n

# Moods behind the two axes of the mood map (Russell's circumplex, from the moods the models know).
VALENCE_MOODS = {"Happy": 1.0, "Sad": -1.0}
ENERGY_MOODS = {"Fast": 1.0, "Loud": 1.0, "Slow": -1.0, "Quiet": -1.0, "Soft": -1.0}

STATE_ANALYSED = "analysed"
STATE_PENDING = "not analysed"
STATE_ERROR = "error"
STATE_WRITTEN = "written"


@dataclass(frozen=True)
class TrackFilter:
    """What the user narrowed the library to: every genre and mood (AND) and a text."""

    genres: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class SortKey:
    column: str = "path"  # one of SORT_COLUMNS
    descending: bool = False


class TrackRow(NamedTuple):
    id: int
    path: str
    title: str  # the tag, else the file name without extension
    artist: str
    album: str
    duration_s: float | None
    genres: tuple[str, ...]
    moods: tuple[str, ...]
    confidence: float | None  # best genre score
    state: str
    error: str | None


@dataclass
class MoodPoints:
    """One point per analysed track of the filter: coordinates, top mood, and what the tooltip shows."""

    ids: list[int] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    top_mood: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    head: str | None = None  # the mood-quadrant head that placed the points; None: the taggers' mood tags
    # With a head: its labels at the corners top right, top left, bottom left, bottom right.
    quadrants: tuple[str, ...] = ()


def _best_genre_score() -> Select:
    return (
        select(TrackLabel.track_id, func.max(TrackLabel.score).label("best"))
        .where(TrackLabel.category == "genre")
        .group_by(TrackLabel.track_id)
    )


def _display_title():
    return func.coalesce(Track.title, Track.path)


def _filtered(query: Select, track_filter: TrackFilter) -> Select:
    query = query.where(Track.missing_since.is_(None))
    for category, names in (("genre", track_filter.genres), ("mood", track_filter.moods)):
        for name in names:
            labelled = select(TrackLabel.track_id).where(
                TrackLabel.category == category, TrackLabel.label == name, TrackLabel.score >= MIN_SCORE
            )
            query = query.where(Track.id.in_(labelled))
    if track_filter.text.strip():  # the one search rule, shared with `list --search`
        query = query.where(search_condition(track_filter.text))
    return query


SORT_COLUMNS = ("path", "title", "artist", "album", "duration", "confidence", "state")


def filtered_ids(session: Session, track_filter: TrackFilter, sort: SortKey = SortKey()) -> list[int]:
    """Ids of the present tracks matching ``track_filter``, in ``sort`` order (NULLs last, then path)."""
    ensure_fold_function(session)  # the text search runs in SQL (library/queries.py)
    query = _filtered(select(Track.id), track_filter)
    if sort.column == "confidence":
        best = _best_genre_score().subquery()
        query = query.outerjoin(best, best.c.track_id == Track.id)
        key = best.c.best
    elif sort.column == "state":
        analysed = exists().where(Analysis.track_id == Track.id)
        key = case((Track.error.is_not(None), 2), (analysed, 1), else_=0)
    else:
        key = {
            "path": Track.path,
            "title": _display_title(),
            "artist": Track.artist,
            "album": Track.album,
            "duration": Track.duration_s,
        }[sort.column]
    key = key.desc() if sort.descending else key.asc()
    query = query.order_by(key.nulls_last(), Track.path, Track.id)
    return list(session.scalars(query))


def load_rows(session: Session, ids: Sequence[int]) -> list[TrackRow]:
    """Display rows for ``ids``, in that order; ids no longer in the index are left out."""
    if not ids:
        return []
    tracks = {
        row.id: row
        for row in session.execute(
            select(
                Track.id,
                Track.path,
                Track.title,
                Track.artist,
                Track.album,
                Track.duration_s,
                Track.error,
            ).where(Track.id.in_(ids))
        )
    }
    labels: dict[tuple[int, str], list[tuple[str, float]]] = {}
    label_rows = session.execute(
        select(TrackLabel.track_id, TrackLabel.category, TrackLabel.label, TrackLabel.score)
        .where(
            TrackLabel.track_id.in_(ids),
            TrackLabel.category.in_(("genre", "mood")),
            TrackLabel.rank <= TOP_N,
        )
        .order_by(TrackLabel.track_id, TrackLabel.category, TrackLabel.rank)
    )
    for track_id, category, label, score in label_rows:
        labels.setdefault((track_id, category), []).append((label, score))
    analysed = set(session.scalars(select(Analysis.track_id).where(Analysis.track_id.in_(ids)).distinct()))
    written = set(
        session.scalars(
            select(WriteEntry.track_id)
            .where(WriteEntry.track_id.in_(ids), WriteEntry.status == "written")
            .distinct()
        )
    )
    rows = []
    for track_id in ids:
        track = tracks.get(track_id)
        if track is None:
            continue
        genres = labels.get((track_id, "genre"), [])
        moods = labels.get((track_id, "mood"), [])
        if track.error:
            state = STATE_ERROR
        elif track_id in written:
            state = STATE_WRITTEN
        elif track_id in analysed:
            state = STATE_ANALYSED
        else:
            state = STATE_PENDING
        rows.append(
            TrackRow(
                id=track_id,
                path=track.path,
                title=track.title or os.path.splitext(os.path.basename(track.path))[0],
                artist=track.artist or "",
                album=track.album or "",
                duration_s=track.duration_s,
                genres=tuple(name for name, score in genres if score >= MIN_SCORE),
                moods=tuple(name for name, score in moods if score >= MIN_SCORE),
                confidence=genres[0][1] if genres else None,
                state=state,
                error=track.error,
            )
        )
    return rows


def mood_points(session: Session, track_filter: TrackFilter, vocabulary: Vocabulary) -> MoodPoints:
    """The mood map's points, valence across and energy (arousal) up, in [-1, 1].

    With a mood-quadrant head (shipped: ``mood_quadrants``) a track sits at the probability-weighted mean
    of the quadrants' corners (happy/excited top right, angry/tense top left, sad bottom left, calm bottom
    right), computed from the stored embeddings. Without one: x = Happy − Sad, y = Fast + Loud − Slow −
    Quiet − Soft of the stored raw tag scores (weak on valence: the taggers' mood tags are rare).
    """
    matching = select(_filtered(select(Track.id), track_filter).subquery().c.id)
    rows = session.execute(
        select(Analysis.track_id, Analysis.model, Analysis.scores)
        .where(Analysis.track_id.in_(matching))
        .order_by(Analysis.track_id)
    )
    raw: dict[int, dict[str, dict[str, float]]] = {}
    for track_id, model, scores in rows:
        raw.setdefault(track_id, {})[model] = scores
    points = MoodPoints()
    if not raw:
        return points
    plane = _quadrant_head()
    placed: dict[int, tuple[float, float, str]] = {}
    if plane is not None:
        head, card, corners = plane
        points.head = card.name
        points.quadrants = tuple(
            next(label for label, xy in corners.items() if xy == corner)
            for corner in ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0))
        )
        orders = {model: load_card(model).labels for model in card.inputs}
        for track_id, outputs in stored_outputs(session, list(raw), orders).items():
            if set(outputs) != set(card.inputs):
                continue
            probs = predict(head, card, head_input(card, outputs))
            x = sum(p * corners[label][0] for label, p in zip(card.labels, probs, strict=True))
            y = sum(p * corners[label][1] for label, p in zip(card.labels, probs, strict=True))
            placed[track_id] = (float(x), float(y), card.labels[int(np.argmax(probs))])
    moods = [label.name for label in vocabulary.in_category("mood")]
    name = func.coalesce(Track.artist + " – " + Track.title, Track.title, Track.path)
    names = dict(session.execute(select(Track.id, name).where(Track.id.in_(matching))).all())
    for track_id, by_model in raw.items():
        if track_id in placed:
            x, y, top = placed[track_id]
        else:
            scores = vocabulary.canonical_scores(by_model)
            x = sum(weight * scores.get(mood, 0.0) for mood, weight in VALENCE_MOODS.items())
            y = sum(weight * scores.get(mood, 0.0) for mood, weight in ENERGY_MOODS.items())
            best = max(moods, key=lambda mood: scores.get(mood, 0.0))
            top = best if scores.get(best, 0.0) > 0 else ""
        points.ids.append(track_id)
        points.x.append(max(-1.0, min(1.0, x)))
        points.y.append(max(-1.0, min(1.0, y)))
        points.top_mood.append(top)
        points.names.append(names.get(track_id, ""))
    return points


def _quadrant_head():
    """The first mood head trained on Russell quadrants, with its label corners; None if there is none."""
    for name in available_heads():
        try:
            head, card = load_head(name)
        except ModelError:
            continue  # a broken user head must not take the map down; `tag` reports it
        corners = mood_plane(card)
        if corners is not None:
            return head, card, corners
    return None
