"""Tracks by genre, mood, text, energy, tempo and key, as ``list`` and ``export`` ask for them.

Labels are looked up by any spelling the vocabulary knows ("hip hop", "jazz"); everything else follows the
app's own filter (library/track_filter.py): the text by the one search rule of library/queries.py (case,
accents and width ignored), energy as whole numbers a DJ reads ("6 to 8" holds 5.5 <= energy < 8.5), BPM
and keys as the facets take them. So ``list`` prints the tracks the app's table shows for the same choices,
in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from musictagger.library.queries import fold_text, search_condition, tracks_by_id
from musictagger.library.schema import Track
from musictagger.library.track_filter import SORT_COLUMNS, SortKey, TrackFilter, filtered_ids
from musictagger.taxonomy import Vocabulary

__all__ = ["SORT_COLUMNS", "TrackQuery", "canonical_names", "find", "fold_text", "search_condition"]


@dataclass(frozen=True)
class TrackQuery:
    """What ``list`` / ``export`` ask for. Genres and moods in any spelling the vocabulary knows; keys as
    canonical names (keys.py); ``sort`` a column of SORT_COLUMNS, "-" first for descending."""

    genres: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    without: tuple[str, ...] = ()  # "genre" / "mood": analysed, and no label of it counts
    text: str | None = None
    min_score: float | None = None  # None: a label counts when it is confident, as in the app's facets
    energy: tuple[float, float] | None = None  # whole numbers, inclusive
    bpm: tuple[float, float] | None = None  # inclusive
    keys: tuple[str, ...] | None = None  # None: any key
    sort: str = "path"

    def __post_init__(self) -> None:
        if self.sort.removeprefix("-") not in SORT_COLUMNS:
            raise ValueError(f"cannot sort by {self.sort!r}; use one of {', '.join(SORT_COLUMNS)}")


def canonical_names(vocabulary: Vocabulary, names: Iterable[str]) -> list[str]:
    """Each name in the vocabulary's spelling (unknown names as given: a user's own label)."""
    return [vocabulary.canonical_name(name) or name for name in names]


def find(
    session: Session, vocabulary: Vocabulary, query: TrackQuery = TrackQuery(), limit: int | None = None
) -> list[Track]:
    """The present tracks matching ``query``, in its order (the first ``limit`` only, when given), each
    with its labels loaded."""
    track_filter = TrackFilter(
        genres=tuple(canonical_names(vocabulary, query.genres)),
        moods=tuple(canonical_names(vocabulary, query.moods)),
        without=query.without,
        text=query.text or "",
        energy=query.energy,
        bpm=query.bpm,
        keys=query.keys,
        min_score=query.min_score,
    )
    sort = SortKey(query.sort.removeprefix("-"), descending=query.sort.startswith("-"))
    ids = filtered_ids(session, track_filter, sort, limit=limit)
    rows = tracks_by_id(session, ids)
    return [rows[i] for i in ids if i in rows]
