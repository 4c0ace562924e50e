""" "More like this": the tracks nearest to one track, as ``list --like`` and the app's track view ask.

Plain data out (``SimilarTrack``), so the app's workers can hand the answer to the GUI thread. The
similarity and its index are library/similar.py's; this adds the track's identity by path, what a list
shows of each neighbour, and the models from settings.toml.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from musictagger.library.recordings import copies_of
from musictagger.library.scanner import path_key_of
from musictagger.library.schema import Track
from musictagger.library.similar import (
    DEFAULT_BPM_TOLERANCE,
    KEY_RULES,
    SIMILARITY_MODELS,
    KeyRule,
    SimilarityError,
    similarity_index,
)
from musictagger.settings import Settings

__all__ = [
    "DEFAULT_BPM_TOLERANCE",
    "KEY_RULES",
    "KeyRule",
    "SimilarTrack",
    "SimilarityError",
    "more_like",
    "similarity_models",
    "track_id_at",
]


@dataclass(frozen=True)
class SimilarTrack:
    """One neighbour, as a list shows it."""

    track_id: int
    path: str
    title: str | None
    artist: str | None
    duration_s: float | None
    similarity: float  # cosine, -1..1
    bpm: float | None
    key: str | None  # canonical musical name ("A minor"), None when unknown


def similarity_models(settings: Settings | None) -> tuple[str, ...]:
    """The taggers whose embeddings are compared: the settings' models where they name some, else the
    two musicnn models the shipped heads read."""
    models = settings.analysis.models if settings is not None else None
    return tuple(models) if models else SIMILARITY_MODELS


def track_id_at(session: Session, path: str | os.PathLike) -> int:
    """The indexed track at ``path``; ``SimilarityError`` when the index does not know the file."""
    found = session.scalar(select(Track.id).where(Track.path_key == path_key_of(path)))
    if found is None:
        raise SimilarityError(f"{os.fspath(path)}: not in the library (scan its folder first)")
    return found


def more_like(
    session: Session,
    track_id: int,
    *,
    limit: int = 20,
    key_rule: KeyRule | None = None,
    bpm_tolerance: float | None = None,
    half_double: bool = True,
    among: Collection[int] | None = None,
    models: Sequence[str] = SIMILARITY_MODELS,
) -> list[SimilarTrack]:
    """The ``limit`` tracks that sound most like ``track_id``, best first (library/similar.py); with
    ``key_rule`` ("same" / "compatible") and ``bpm_tolerance`` (a fraction, half and double tempo
    included unless ``half_double`` is off) only those a DJ could mix into it; with ``among`` only those
    track ids (a search's result). The track's copies in other files (library/recordings.py) are left
    out."""
    index = similarity_index(session, models)
    neighbours = index.nearest(
        track_id,
        limit,
        key_rule=key_rule,
        bpm_tolerance=bpm_tolerance,
        half_double=half_double,
        among=among,
        # The track's copies in other files sound exactly like it: a DJ asking what to play next wants
        # other tracks.
        exclude=copies_of(session, index, track_id),
    )
    if not neighbours:
        return []
    columns = (Track.id, Track.path, Track.title, Track.artist, Track.duration_s, Track.bpm, Track.key)
    rows = session.execute(select(*columns).where(Track.id.in_([n.track_id for n in neighbours])))
    facts = {row[0]: row[1:] for row in rows}
    found = []
    for n in neighbours:
        if n.track_id not in facts:  # deleted since the index was built
            continue
        path, title, artist, duration_s, bpm, key = facts[n.track_id]
        found.append(SimilarTrack(n.track_id, path, title, artist, duration_s, n.similarity, bpm, key))
    return found
