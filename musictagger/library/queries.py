"""The read side of the index: tracks by label and text, label counts for facets, M3U8 playlists."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from musictagger.library.scanner import path_key_of
from musictagger.library.schema import Track, TrackLabel

# What find_tracks may sort by; "-name" sorts descending. Ties (and NULLs, last) are ordered by path.
ORDER_COLUMNS = {
    "path": Track.path,
    "title": Track.title,
    "artist": Track.artist,
    "album": Track.album,
    "folder": Track.folder,
    "duration": Track.duration_s,
    "scanned_at": Track.scanned_at,
}


def find_tracks(
    session: Session,
    *,
    genres: Iterable[str] = (),
    moods: Iterable[str] = (),
    text: str | None = None,
    min_score: float = 0.0,
    include_missing: bool = False,
    order_by: str = "path",
    load_labels: bool = True,
) -> list[Track]:
    """Tracks having every one of ``genres`` and ``moods`` (exact canonical names) with a score of at
    least ``min_score``, whose path, title, artist or album contains ``text`` (case-insensitive).

    ``load_labels`` loads each track's labels with it (one extra query, not one per track).
    """
    query = select(Track)
    if not include_missing:
        query = query.where(Track.missing_since.is_(None))
    for category, names in (("genre", genres), ("mood", moods)):
        for name in names:
            query = query.where(Track.id.in_(_tracks_labelled(category, name, min_score)))
    fold_in_python = False
    if text:
        fold_in_python = not _can_fold_in_sql(session, text)
        if not fold_in_python:
            pattern = "%" + _escape_like(text) + "%"
            query = query.where(
                Track.path.ilike(pattern, escape="\\")
                | Track.title.ilike(pattern, escape="\\")
                | Track.artist.ilike(pattern, escape="\\")
                | Track.album.ilike(pattern, escape="\\")
            )
    query = _ordered(query, order_by)
    if load_labels:
        query = query.options(selectinload(Track.labels))
    tracks = list(session.scalars(query))
    if fold_in_python:
        needle = text.casefold()
        tracks = [t for t in tracks if any(needle in (v or "").casefold() for v in _searched(t))]
    return tracks


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
    session: Session, category: str, min_score: float, *, include_missing: bool = False
) -> list[tuple[str, int]]:
    """``(label, number of tracks)`` for one category at ``min_score`` or above, most frequent first."""
    count = func.count(TrackLabel.track_id.distinct())
    query = (
        select(TrackLabel.label, count)
        .where(TrackLabel.category == category, TrackLabel.score >= min_score)
        .group_by(TrackLabel.label)
        .order_by(count.desc(), TrackLabel.label)
    )
    if not include_missing:
        query = query.join(Track, Track.id == TrackLabel.track_id).where(Track.missing_since.is_(None))
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
    _write_atomically(Path(out_path), b"\n".join(lines) + b"\n")
    return Path(out_path)


def _tracks_labelled(category: str, name: str, min_score: float) -> Select:
    return select(TrackLabel.track_id).where(
        TrackLabel.category == category, TrackLabel.label == name, TrackLabel.score >= min_score
    )


def _can_fold_in_sql(session: Session, text: str) -> bool:
    # SQLite's LIKE folds ASCII letters only ("é" would not find "É"); there, non-ASCII text is matched
    # in Python after the other filters. PostgreSQL's ILIKE folds Unicode.
    return text.isascii() or session.get_bind().dialect.name != "sqlite"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _searched(track: Track) -> tuple[str | None, ...]:
    return (track.path, track.title, track.artist, track.album)


def _ordered(query: Select, order_by: str) -> Select:
    descending = order_by.startswith("-")
    column = ORDER_COLUMNS.get(order_by.lstrip("-"))
    if column is None:
        raise ValueError(f"cannot order by {order_by!r}; use one of {', '.join(ORDER_COLUMNS)}")
    key = column.desc() if descending else column.asc()
    return query.order_by(key.nulls_last(), Track.path, Track.id)


def _display_name(track: Track) -> str:
    if track.artist and track.title:
        name = f"{track.artist} - {track.title}"
    else:
        name = track.title or os.path.splitext(os.path.basename(track.path))[0]
    return " ".join(name.split())  # a line break in a tag would end the #EXTINF line


def _write_atomically(target: Path, data: bytes) -> None:
    target = target.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); a playlist is as readable as any file the user makes.
        os.chmod(temp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
