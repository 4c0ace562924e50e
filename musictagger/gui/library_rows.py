"""What the library table and mood map show, as plain queries on the index (no Qt here).

The table never asks for one row at a time: ``filtered_ids`` (library/track_filter.py, the filter the
command line's ``list`` follows too) gives the ordered ids of the first page, then of every matching
track, in one query each (a million ints take 0.6 s: the first page is shown before), and ``load_rows``
turns one page of those ids into display rows with their labels, analysis state and write state in a
fixed number of queries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from musictagger.library.schema import Analysis, Track, TrackLabel, WriteEntry
from musictagger.library.track_filter import TrackFilter, narrowed
from musictagger.taxonomy import SelectionPolicy, genres_as_read

# The same rule the CLI and the track view use to call a label "suggested".
DISPLAY_POLICY = SelectionPolicy()
MIN_SCORE = DISPLAY_POLICY.min_score
TOP_N = DISPLAY_POLICY.top_n

STATE_ANALYSED = "analysed"
STATE_PENDING = "not analysed"
STATE_ERROR = "error"
STATE_WRITTEN = "written"


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
    energy: float | None = None  # 1-10
    valence: float | None = None  # -1..1
    bpm: float | None = None
    key: str | None = None  # canonical ("A minor"); shown in the notation the user picked


@dataclass
class MoodPoints:
    """One point per analysed track of the filter: coordinates, top mood, and what the tooltip shows."""

    ids: list[int] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    top_mood: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    head: str | None = None  # the regression head whose stored values placed the points


def load_rows(
    session: Session, ids: Sequence[int], style_families: Mapping[str, str] | None = None
) -> list[TrackRow]:
    """Display rows for ``ids``, in that order; ids no longer in the index are left out. A confident
    style is shown beside its family (``style_families``: the vocabulary's, style -> family)."""
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
                Track.energy,
                Track.valence,
                Track.bpm,
                Track.key,
            ).where(Track.id.in_(ids))
        )
    }
    labels: dict[tuple[int, str], list[tuple[str, float]]] = {}
    label_rows = session.execute(
        select(
            TrackLabel.track_id, TrackLabel.category, TrackLabel.label, TrackLabel.score, TrackLabel.confident
        )
        .where(
            TrackLabel.track_id.in_(ids),
            TrackLabel.category.in_(("genre", "style", "mood")),
            TrackLabel.rank <= TOP_N,
        )
        .order_by(TrackLabel.track_id, TrackLabel.category, TrackLabel.rank)
    )
    # The columns show what a write would take (and style hints); the confidence column the best genre.
    best_genre: dict[int, float] = {}
    for track_id, category, label, score, confident in label_rows:
        if category == "genre":
            best_genre[track_id] = max(best_genre.get(track_id, 0.0), score)
        if confident:
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
        # The families, the style the models hear most beside its own ("Rock › Metal"), as DJs name
        # genres (taxonomy.genres_as_read).
        styles = labels.get((track_id, "style"), [])
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
                genres=genres_as_read(
                    [name for name, _ in genres], styles[0][0] if styles else None, style_families or {}
                ),
                moods=tuple(name for name, _ in moods),
                confidence=best_genre.get(track_id),
                state=state,
                error=track.error,
                energy=track.energy,
                valence=track.valence,
                bpm=track.bpm,
                key=track.key,
            )
        )
    return rows


def mood_points(session: Session, track_filter: TrackFilter) -> MoodPoints:
    """The mood map's points: valence across (-1 negative .. 1 positive) and energy up (1-10), as the
    energy_valence head stored them for each analysed track of the filter. A point's colour is the
    track's best confident mood (the best-scored one that passes its own calibrated threshold: the first
    of the table's Moods column), else none ("no confident mood")."""
    name = func.coalesce(Track.artist + " – " + Track.title, Track.title, Track.path)
    rows = session.execute(
        narrowed(session, select(Track.id, Track.valence, Track.energy, name), track_filter)
        .where(Track.energy.is_not(None), Track.valence.is_not(None))
        .order_by(Track.id)
    ).all()
    points = MoodPoints(head="energy_valence")
    if not rows:
        return points
    ids = [row[0] for row in rows]
    top: dict[int, str] = {}
    for start in range(0, len(ids), 500):  # SQLite bounds the parameters of one query
        # Not the first-ranked mood alone: Dark 0.31 under its threshold and Aggressive 0.26 over its own
        # made the map grey ("no confident mood") beside a table that said Aggressive.
        confident = session.execute(
            select(TrackLabel.track_id, TrackLabel.label)
            .where(
                TrackLabel.track_id.in_(ids[start : start + 500]),
                TrackLabel.category == "mood",
                TrackLabel.confident.is_(True),
            )
            .order_by(TrackLabel.track_id, TrackLabel.rank)
        )
        for track_id, label in confident:
            top.setdefault(track_id, label)
    for track_id, valence, energy, track_name in rows:
        points.ids.append(track_id)
        points.x.append(float(valence))
        points.y.append(float(energy))
        points.top_mood.append(top.get(track_id, ""))
        points.names.append(track_name or "")
    return points
