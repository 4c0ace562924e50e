"""Which tracks of the index a DJ narrowed the library to, in which order: one rule for the app's table,
facets and mood map and for ``list`` / ``export`` on the command line (services/search.py).

A filter is every genre and mood asked for (a label counts when it is confident, as the facets count it,
or at a score asked for), or none at all in a category (an analysed track with no confident genre), a
text (the one search rule of library/queries.py), an energy range, a BPM range and a set of keys.
``filtered_ids`` gives the ids of the present tracks that match, in a sort order of the table, a chunk at
a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, case, exists, func, intersect, select
from sqlalchemy.orm import Session

from musictagger.keys import ALL_KEYS
from musictagger.library import label_bits
from musictagger.library.driver_rows import driver_rows
from musictagger.library.queries import (
    FILTER_CATEGORIES,
    ensure_fold_function,
    search_condition,
    tracks_labelled,
)
from musictagger.library.schema import Analysis, LabelFacet, Track, TrackLabel

#: ``filtered_ids`` reads the ids this many at a time from the driver. Read at once, a million ids are one
#: C call that keeps the GIL for ~150 ms on the runner's thread, and the GUI thread froze that long
#: (bench/bench_gui_million.py); between chunks it gets its turn.
ID_CHUNK = 10_000


@dataclass(frozen=True)
class TrackFilter:
    """What the user narrowed the library to: every genre and mood (AND), a text, ranges and keys."""

    genres: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    text: str = ""
    energy: tuple[float, float] | None = None  # inclusive; a track with no energy yet is left out
    bpm: tuple[float, float] | None = None  # inclusive; a track with no BPM is left out
    keys: tuple[str, ...] | None = None  # canonical key names (keys.py); None: any key, () : none
    # Categories ("genre", "mood") in which an analysed track has no label that counts (a style alone is
    # not a genre: never written): what a write leaves as it is, the tracks a DJ tags by hand. A track
    # not analysed yet, or whose analysis failed, is not one of them (nothing was heard yet).
    without: tuple[str, ...] = ()
    # A genre or mood counts when it is confident (the facets' rule, TrackLabel.confident), or at this
    # score or more when given (``list --min-score``).
    min_score: float | None = None


@dataclass(frozen=True)
class SortKey:
    column: str = "path"  # one of SORT_COLUMNS
    descending: bool = False


def _best_genre_score() -> Select:
    return (
        select(TrackLabel.track_id, func.max(TrackLabel.score).label("best"))
        .where(TrackLabel.category == "genre")
        .group_by(TrackLabel.track_id)
    )


def _analysed():
    """SQL: the track has a stored analysis."""
    return exists().where(Analysis.track_id == Track.id)


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


def narrowed(session: Session, query: Select, track_filter: TrackFilter) -> Select:
    """``query`` (over tracks) restricted to the present tracks that match ``track_filter``."""
    query = query.where(Track.missing_since.is_(None))
    labelled = [
        tracks_labelled(category, name, track_filter.min_score)
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
        # The bits hold confident labels only: a filter at a score of its own reads the label rows.
        mask = label_bits.mask_of(session, named) if track_filter.min_score is None else None
        if mask is not None:
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
    for category in track_filter.without:
        query = query.where(
            Track.error.is_(None),
            _analysed(),
            Track.id.not_in(tracks_labelled(category, None, track_filter.min_score, facet=False)),
        )
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
    query = narrowed(session, select(Track.id), track_filter)
    if sort.column == "confidence":
        best = _best_genre_score().subquery()
        query = query.outerjoin(best, best.c.track_id == Track.id)
        key = best.c.best
    elif sort.column == "key":
        key = _camelot_order()
    elif sort.column == "state":
        key = case((Track.error.is_not(None), 2), (_analysed(), 1), else_=0)
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
