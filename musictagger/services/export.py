"""M3U8 playlists of the library's tracks by genre, mood and text (Rekordbox, Serato and Traktor import
them)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from musictagger.library.db import Library
from musictagger.library.queries import export_m3u8
from musictagger.services.search import find
from musictagger.taxonomy import Vocabulary


def export_playlist(
    library: Library,
    vocabulary: Vocabulary,
    out: str | os.PathLike,
    *,
    genres: Iterable[str] = (),
    moods: Iterable[str] = (),
    text: str | None = None,
    min_score: float = 0.0,
) -> tuple[Path, int]:
    """Write the matching tracks (services.search.find) to ``out`` atomically; (the file, tracks in it)."""
    with library.session() as session:
        tracks = find(session, vocabulary, genres=genres, moods=moods, text=text, min_score=min_score)
        path = export_m3u8(tracks, out)
    return path, len(tracks)
