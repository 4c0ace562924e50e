"""Tracks by genre, mood and text, as ``list`` and ``export`` ask for them.

Labels are looked up by any spelling the vocabulary knows ("hip hop", "jazz"); the text follows the one
search rule of library/queries.py (case, accents and width ignored), which the app's table uses too.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from musictagger.library.queries import find_tracks, fold_text, search_condition
from musictagger.library.schema import Track
from musictagger.taxonomy import Vocabulary

__all__ = ["canonical_names", "find", "fold_text", "search_condition"]


def canonical_names(vocabulary: Vocabulary, names: Iterable[str]) -> list[str]:
    """Each name in the vocabulary's spelling (unknown names as given: a user's own label)."""
    return [vocabulary.canonical_name(name) or name for name in names]


def find(
    session: Session,
    vocabulary: Vocabulary,
    *,
    genres: Iterable[str] = (),
    moods: Iterable[str] = (),
    text: str | None = None,
    min_score: float | None = 0.0,
    order_by: str = "path",
) -> list[Track]:
    """Present tracks having all ``genres`` and ``moods`` at ``min_score`` or above (None: confidently,
    as the app's facets count them) whose path, title, artist or album contains ``text``; each with its
    labels loaded."""
    return find_tracks(
        session,
        genres=canonical_names(vocabulary, genres),
        moods=canonical_names(vocabulary, moods),
        text=text,
        min_score=min_score,
        order_by=order_by,
    )
