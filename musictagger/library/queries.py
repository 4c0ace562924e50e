"""The read side of the index: tracks by label and text, label counts for facets, M3U8 playlists.

Text search has one rule, used by ``list --search``/``export --search`` and the app's library table (both
through library/track_filter.py): ``search_condition(text)``. Title, artist, album and path match when
they contain the text after both are folded by ``fold_text``: case-insensitive (full Unicode case folding,
so "straße" finds "STRASSE"), accent-insensitive ("beyonce" finds "Beyoncé") and width-insensitive
(compatibility forms: "ｆｕｌｌ" finds "full", "ﬁ" finds "fi"). The folded text of each track is kept in
``tracks.search_text`` by database triggers (library/search_text.py): in SQLite they call the fold as a
registered function, so a search is one ``instr`` per row over a narrow index, no Python call at all.
PostgreSQL cannot run Python functions; there the triggers fold in SQL: Latin letters with accents, full-
width letters and the common ligatures (ß, æ, œ, þ, ﬁ) are translated to their plain spelling, then lowered,
so "beyonce" finds "Beyoncé" there too; other scripts compare as the server's ``lower()`` does (only ASCII
under the C locale). Elsewhere it is a case-insensitive LIKE (accents count). Each is the same for both
front ends.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import Boolean, ColumnElement, Select, and_, func, literal, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload

from musictagger.atomic import write_atomically
from musictagger.library import search_text
from musictagger.library.folding import COLUMN_SEPARATOR, fold_text, register_fold
from musictagger.library.id_chunks import id_chunks
from musictagger.library.scanner import path_key_of
from musictagger.library.schema import FILTER_CATEGORIES, LabelFacet, Track, TrackLabel


def tracks_by_id(session: Session, ids: Sequence[int]) -> dict[int, Track]:
    """The index rows of ``ids`` (each with its labels loaded), by id; ids not in the index are absent."""
    ids = list(dict.fromkeys(ids))
    rows: dict[int, Track] = {}
    for chunk in id_chunks(ids):
        query = select(Track).where(Track.id.in_(chunk)).options(selectinload(Track.labels))
        rows.update((track.id, track) for track in session.scalars(query))
    return rows


# --- text search ------------------------------------------------------------------------------------------


def search_condition(text: str, session: Session | None = None) -> ColumnElement[bool]:
    """The WHERE clause of the one text search: path, title, artist or album contains ``text``, folded.

    SQLite and PostgreSQL compare with ``tracks.search_text``, folded when the row was written
    (library/search_text.py); other databases get a case-insensitive LIKE on the columns (accents then
    count). ``session`` is accepted for callers that still pass it (the fold is registered on every
    connection by folding.py).
    """
    if session is not None:
        ensure_fold_function(session)
    return _Matching(fold_text(text.strip()))


class _Matching(ColumnElement[bool]):
    """``tracks.id`` is one whose folded text contains ``needle`` (folded), compiled per database below.

    No ``Boolean`` type: SQLite would get ``(tracks.id IN (…)) = 1``, which its planner cannot use."""

    inherit_cache = False  # the needle is part of the statement: no cached compilation to share

    def __init__(self, needle: str):
        self.needle = needle


@compiles(_Matching)
def _matching_by_scan(element: _Matching, compiler, **kw) -> str:
    # The ids that match, asked on their own: SQLite then scans the narrow ix_tracks_search alone and
    # fetches the matching rows by id, rather than walking every wide row in the outer query's order.
    matching = select(Track.id).where(_FoldedContains(Track.search_text, element.needle))
    return compiler.process(Track.id.in_(matching), **kw)


@compiles(_Matching, "sqlite")
def _matching_sqlite(element: _Matching, compiler, **kw) -> str:
    # Three characters or more: the trigram index answers (library/search_text.py); a phrase of the
    # needle's consecutive trigrams is exactly "contains the needle". Every head-revision index has the
    # table whenever this process's SQLite has FTS5 (db.py makes sure when it opens one).
    if len(element.needle) < search_text.TRIGRAM_MIN_NEEDLE or not search_text.trigrams_supported():
        return _matching_by_scan(element, compiler, **kw)
    phrase = '"' + element.needle.replace('"', '""') + '"'
    trigrams = search_text.trigrams
    matching = select(trigrams.c.rowid).where(trigrams.c.search_text.match(phrase))
    return compiler.process(Track.id.in_(matching), **kw)


@compiles(_Matching, "postgresql")
def _matching_postgresql(element: _Matching, compiler, **kw) -> str:
    # Three characters or more: the rows whose trigrams include all of the needle's, from the GIN index
    # (library/search_text.py, migration 0012), then the strpos test on those rows only. On the outer
    # query's own rows: a bitmap scan gives them, where ids from a subquery would each be fetched again
    # by primary key (42,000 lookups for a common word on a million tracks).
    if len(element.needle) < search_text.TRIGRAM_MIN_NEEDLE:
        return _matching_by_scan(element, compiler, **kw)
    trigrams = getattr(func, search_text.PG_TRIGRAMS_FUNCTION)
    has_trigrams = trigrams(Track.search_text).op("@>")(trigrams(literal(element.needle)))
    return compiler.process(and_(has_trigrams, _FoldedContains(Track.search_text, element.needle)), **kw)


def ensure_fold_function(session: Session) -> None:
    """Register FOLD_FUNCTION on the SQLite connection ``session`` uses (idempotent, microseconds)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    dbapi = session.connection().connection.dbapi_connection
    if isinstance(dbapi, sqlite3.Connection):
        register_fold(dbapi)


class _FoldedContains(ColumnElement[bool]):
    """``fold(haystack)`` contains ``needle`` (already folded), compiled per database below."""

    type = Boolean()
    inherit_cache = False  # the needle is part of the statement: no cached compilation to share

    def __init__(self, haystack: ColumnElement[str], needle: str):
        self.haystack = haystack
        self.needle = needle


@compiles(_FoldedContains, "sqlite")
def _folded_contains_sqlite(element: _FoldedContains, compiler, **kw) -> str:
    # The haystack is tracks.search_text, folded by FOLD_FUNCTION when the row was written (triggers,
    # library/search_text.py): no Python call per row at search time.
    return compiler.process(func.instr(element.haystack, literal(element.needle)) > 0, **kw)


@compiles(_FoldedContains, "postgresql")
def _folded_contains_postgresql(element: _FoldedContains, compiler, **kw) -> str:
    # search_text holds the SQL fold of search_text.py (folding.latin_folding's letters, lowered).
    return compiler.process(func.strpos(element.haystack, literal(element.needle)) > 0, **kw)


@compiles(_FoldedContains)
def _folded_contains_elsewhere(element: _FoldedContains, compiler, **kw) -> str:
    # No triggers keep search_text here: the columns themselves, lowered.
    haystack = _searched_text()
    clause = func.lower(haystack).like(literal(f"%{_escape_like(element.needle)}%"), escape="\\")
    return compiler.process(clause, **kw)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _searched_text() -> ColumnElement[str]:
    sep = literal(COLUMN_SEPARATOR)
    columns = [func.coalesce(column, "") for column in (Track.path, Track.title, Track.artist, Track.album)]
    joined = columns[0]
    for column in columns[1:]:
        joined = joined + sep + column
    return joined


def tracks_under(
    session: Session, paths: Iterable[str | os.PathLike], *, include_missing: bool = False
) -> list[Track]:
    """Indexed tracks that are one of ``paths`` or inside one of them (folders), by path."""
    if isinstance(paths, str | bytes | os.PathLike):
        paths = [paths]
    conditions: list[ColumnElement[bool]] = []
    for path in paths:
        key = path_key_of(path)
        folder = key if key.endswith(os.fsencode(os.sep)) else key + os.fsencode(os.sep)
        conditions.append(Track.path_key == key)
        conditions.append(func.substr(Track.path_key, 1, len(folder)) == folder)
    if not conditions:
        return []
    query = select(Track).where(or_(*conditions))
    if not include_missing:
        query = query.where(Track.missing_since.is_(None))
    return list(session.scalars(query.order_by(Track.path, Track.id)))


def label_counts(
    session: Session,
    category: str,
    min_score: float,
    *,
    include_missing: bool = False,
    confident_only: bool = False,
) -> list[tuple[str, int]]:
    """``(label, number of tracks)`` for one category (genre: styles too) at ``min_score`` or above (and,
    with ``confident_only``, at the label's calibrated threshold: what the app's facets count), most
    frequent first."""
    count = func.count(TrackLabel.track_id.distinct())
    query = (
        select(TrackLabel.label, count)
        .where(
            TrackLabel.category.in_(FILTER_CATEGORIES.get(category, (category,))),
            TrackLabel.score >= min_score,
            TrackLabel.confident.is_(True) if confident_only else true(),
        )
        .group_by(TrackLabel.label)
        .order_by(count.desc(), TrackLabel.label)
    )
    if not include_missing:
        # The few missing tracks left out by id (ix_tracks_missing), rather than every label row joined to
        # its track: the counts then read ix_track_labels_facets alone (docs/scale.md).
        missing = select(Track.id).where(Track.missing_since.is_not(None))
        query = query.where(TrackLabel.track_id.not_in(missing))
    return [(label, int(n)) for label, n in session.execute(query)]


def facet_counts(session: Session, category: str) -> list[tuple[str, int]]:
    """``(label, number of present tracks with it confidently)`` for one category (genre: styles too),
    most frequent first: what the app's facets show, read from the counts the database keeps
    (library/facet_counts.py), in a millisecond on any library size. Equals ``label_counts(session,
    category, 0.0, confident_only=True)``, which counts the labels themselves."""
    tracks = func.sum(LabelFacet.tracks)
    query = (
        select(LabelFacet.label, tracks)
        .where(LabelFacet.category.in_(FILTER_CATEGORIES.get(category, (category,))))
        .group_by(LabelFacet.label)
        .having(tracks > 0)
        .order_by(tracks.desc(), LabelFacet.label)
    )
    return [(label, int(n)) for label, n in session.execute(query)]


def export_m3u8(tracks: Sequence[Track], out_path: str | os.PathLike) -> Path:
    """Write an extended M3U playlist in UTF-8 that Rekordbox, Serato and Traktor import.

    ``#EXTINF:<seconds>,<artist> - <title>`` then the absolute path, per track. The file is replaced
    atomically: an existing playlist is never left half-written. Paths are written as the file system's
    bytes (always UTF-8 on macOS and Windows; on Linux a non-UTF-8 name is kept as is, so it still opens).
    """
    lines = [b"#EXTM3U"]
    for track in tracks:
        seconds = round(track.duration_s) if track.duration_s else -1
        lines.append(f"#EXTINF:{seconds},{_display_name(track)}".encode("utf-8", "backslashreplace"))
        key = bytes(track.path_key)
        lines.append(key if os.path.isabs(key) else os.path.abspath(key))
    write_atomically(Path(out_path).expanduser(), b"\n".join(lines) + b"\n")
    return Path(out_path)


def tracks_labelled(
    category: str, name: str | None, min_score: float | None, *, facet: bool = True
) -> Select:
    """The ids of the tracks with genre / mood ``name`` (None: any of the category's): confidently
    (``min_score`` None, the facets' rule, ``TrackLabel.confident``), or at ``min_score`` or more. A genre
    is looked for among the styles too (``facet``: as the genre facets count, "Techno" a style), or alone
    (as a write takes genres: a style is a hint, never written)."""
    counts = TrackLabel.confident.is_(True) if min_score is None else TrackLabel.score >= min_score
    categories = FILTER_CATEGORIES.get(category, (category,)) if facet else (category,)
    query = select(TrackLabel.track_id).where(TrackLabel.category.in_(categories), counts)
    return query if name is None else query.where(TrackLabel.label == name)


def _display_name(track: Track) -> str:
    if track.artist and track.title:
        name = f"{track.artist} - {track.title}"
    else:
        name = track.title or os.path.splitext(os.path.basename(track.path))[0]
    return " ".join(name.split())  # a line break in a tag would end the #EXTINF line
