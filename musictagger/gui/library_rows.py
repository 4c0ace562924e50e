"""What the library table, facets and mood map show, as plain queries on the index (no Qt here).

The table never asks for one row at a time: ``filtered_ids`` gives the ordered ids of the first page, then
of every matching track, in one query each (a million ints take 0.6 s: the first page is shown before),
and ``load_rows`` turns one page of those ids into display rows with their labels, analysis state and
write state in a fixed number of queries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Select, case, exists, func, intersect, select
from sqlalchemy.orm import Session

from musictagger.keys import ALL_KEYS
from musictagger.library import label_bits
from musictagger.library.driver_rows import driver_rows
from musictagger.library.queries import FILTER_CATEGORIES, ensure_fold_function, search_condition
from musictagger.library.schema import Analysis, LabelFacet, Track, TrackLabel, WriteEntry
from musictagger.taxonomy import SelectionPolicy

#: ``filtered_ids`` reads the ids this many at a time from the driver. Read at once, a million ids are one
#: C call that keeps the GIL for ~150 ms on the runner's thread, and the GUI thread froze that long
#: (bench/bench_gui_million.py); between chunks it gets its turn.
ID_CHUNK = 10_000

# The same rule the CLI and the track view use to call a label "suggested".
DISPLAY_POLICY = SelectionPolicy()
MIN_SCORE = DISPLAY_POLICY.min_score
TOP_N = DISPLAY_POLICY.top_n

# Moods behind the two axes of the mood map (Russell's circumplex, from the moods the models know).

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
    energy: tuple[float, float] | None = None  # inclusive; a track with no energy yet is left out
    bpm: tuple[float, float] | None = None  # inclusive; a track with no BPM is left out
    keys: tuple[str, ...] | None = None  # canonical key names (keys.py); None: any key, () : none


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


def _best_genre_score() -> Select:
    return (
        select(TrackLabel.track_id, func.max(TrackLabel.score).label("best"))
        .where(TrackLabel.category == "genre")
        .group_by(TrackLabel.track_id)
    )


def _bpm_range_is_narrower(session: Session, track_filter: TrackFilter) -> bool:
    """Whether fewer present tracks lie in the filter's BPM range than have its rarest label (confidently),
    from the facet counts the database keeps and a count over a range of ix_tracks_bpm_order that stops
    at that many (a wide range costs no more than a narrow one)."""
    if track_filter.bpm is None:
        return False
    rarest = min(
        session.scalar(
            select(func.coalesce(func.sum(LabelFacet.tracks), 0)).where(
                LabelFacet.category.in_(FILTER_CATEGORIES[category]), LabelFacet.label == name
            )
        )
        for category, names in (("genre", track_filter.genres), ("mood", track_filter.moods))
        for name in names
    )
    low, high = track_filter.bpm
    in_range = (
        select(Track.id)
        .where(Track.missing_since.is_(None), Track.bpm >= low, Track.bpm <= high)
        .limit(rarest)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(in_range)) < rarest


def _filtered(session: Session, query: Select, track_filter: TrackFilter) -> Select:
    query = query.where(Track.missing_since.is_(None))
    labelled = [
        select(TrackLabel.track_id).where(
            TrackLabel.category.in_(FILTER_CATEGORIES[category]),
            TrackLabel.label == name,
            TrackLabel.confident.is_(True),  # as the facets count
        )
        for category, names in (("genre", track_filter.genres), ("mood", track_filter.moods))
        for name in names
    ]
    # Which side drives: the tracks with the labels (their ids, then each row by id), or the BPM range
    # when it holds fewer tracks than the rarest label (the labels then only tested). Neither engine
    # knows it here (SQLite has no statistics; PostgreSQL's do not see how labels combine), the counts
    # say it. 1M tracks, Electronic + Euphoric at 120-130 BPM: SQLite 296 -> 212 ms, PostgreSQL 423 ->
    # 162 ms from the narrower side; then 212 -> 41 ms from the label bits (docs/scale.md).
    if labelled and _bpm_range_is_narrower(session, track_filter):
        named = [("genre", name) for name in track_filter.genres] + [
            ("mood", name) for name in track_filter.moods
        ]
        if (mask := label_bits.mask_of(session, named)) is not None:
            # Every label a bit: the range's own index entries answer (``label_bits`` is the last column
            # of ix_tracks_bpm_order, migration 0014), no label row read. With the first page of rows,
            # SQLite 244 -> 50 ms, PostgreSQL 200 -> 58-75 ms.
            query = query.where(Track.label_bits.op("&")(mask) == mask)
        elif session.get_bind().dialect.name == "sqlite":
            # ``id + 0``: the ids are a list to test, not rows to look up; ix_tracks_bpm_order (covering)
            # gives the range. In track id order the list comes from ix_track_labels_by_label, built
            # in order (one label: 495 -> 240 ms for Electronic's 375,503 tracks).
            ids = intersect(*labelled) if len(labelled) > 1 else labelled[0]
            query = query.where((Track.id + 0).in_(ids.order_by("track_id")))
        else:
            query = query.where(*(Track.id.in_(ids) for ids in labelled))  # semi-joins from the range
    elif len(labelled) == 1:
        query = query.where(Track.id.in_(labelled[0]))  # one range of ix_track_labels_facets
    elif labelled:
        # One set of ids with every label: not a row visit per track of the first label to test the
        # others. Ordered by track id, SQLite merges the labels' ranges of ix_track_labels_by_label
        # rather than sorting each into a temporary B-tree (docs/scale.md).
        query = query.where(Track.id.in_(intersect(*labelled).order_by("track_id")))
    if track_filter.energy is not None:
        low, high = track_filter.energy
        # Whole numbers as DJs read them: "6 to 8" holds 5.5 <= energy < 8.5.
        query = query.where(Track.energy >= low - 0.5, Track.energy < high + 0.5)
    if track_filter.bpm is not None:
        low, high = track_filter.bpm
        query = query.where(Track.bpm >= low, Track.bpm <= high)
    if track_filter.keys is not None:
        query = query.where(Track.key.in_(track_filter.keys))
    if track_filter.text.strip():  # the one search rule, shared with `list --search`
        query = query.where(search_condition(track_filter.text))
    return query


#: The sort orders a covering index of the present tracks serves (migrations 0006 and 0013): the first
#: ids in that order are a read of the index that stops after them.
INDEXED_SORTS = frozenset({"path", "title", "artist", "album", "bpm"})

SORT_COLUMNS = (
    "path",
    "title",
    "artist",
    "album",
    "duration",
    "confidence",
    "energy",
    "valence",
    "bpm",
    "key",
    "state",
)


def _camelot_order():
    """Keys sort round the Camelot wheel (1A, 1B, 2A, …), as DJs read a harmonic crate, whatever notation
    the table shows: the index holds canonical names, so the order is a CASE over the 24 of them."""
    ranks = {key.musical: (key.camelot_number, key.is_minor is False) for key in ALL_KEYS}
    ordered = sorted(ranks, key=ranks.__getitem__)
    return case({name: rank for rank, name in enumerate(ordered)}, value=Track.key)


def filtered_ids(
    session: Session, track_filter: TrackFilter, sort: SortKey = SortKey(), limit: int | None = None
) -> list[int]:
    """Ids of the present tracks matching ``track_filter``, in ``sort`` order (NULLs last, then path);
    the first ``limit`` only when given (the table's first page, before it reads them all)."""
    ensure_fold_function(session)  # the text search runs in SQL (library/queries.py)
    query = _filtered(session, select(Track.id), track_filter)
    if sort.column == "confidence":
        best = _best_genre_score().subquery()
        query = query.outerjoin(best, best.c.track_id == Track.id)
        key = best.c.best
    elif sort.column == "key":
        key = _camelot_order()
    elif sort.column == "state":
        analysed = exists().where(Analysis.track_id == Track.id)
        key = case((Track.error.is_not(None), 2), (analysed, 1), else_=0)
    else:
        key = {
            "path": Track.path,
            "title": Track.title,  # as `list --order title`: untitled tracks last, by path
            "artist": Track.artist,
            "album": Track.album,
            "duration": Track.duration_s,
            "energy": Track.energy,
            "valence": Track.valence,
            "bpm": Track.bpm,
        }[sort.column]
    key = key.desc() if sort.descending else key.asc()
    if sort.column == "path":
        # Never NULL, and named once: "path NULLS LAST, path, id" made SQLite sort the ties itself.
        query = query.order_by(key, Track.id)
    else:
        query = query.order_by(key.nulls_last(), Track.path, Track.id)
    if limit is not None:
        query = query.limit(limit)
    # The driver's own rows: SQLAlchemy's row objects cost more than the query itself on a million ids
    # (``yield_per``'s server-side cursor on PostgreSQL: 4.1 s against 0.55 s; docs/scale.md).
    ids: list[int] = []
    for chunk in driver_rows(session, query, chunk=ID_CHUNK):
        ids.extend(row[0] for row in chunk)
    return ids


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
        # The family, then the style the models hear most (a hint: "Rock, Metal"), as DJs name genres.
        styles = [name for name, _ in labels.get((track_id, "style"), [])[:1]]
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
                genres=tuple(name for name, _ in genres) + tuple(styles),
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
        _filtered(session, select(Track.id, Track.valence, Track.energy, name), track_filter)
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
