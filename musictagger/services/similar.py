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

from musictagger.library.recordings import copies_of, one_per_recording, recording_groups
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
    "RecordingFile",
    "SimilarTrack",
    "SimilarityError",
    "copies_of_track",
    "more_like",
    "recordings_in_several_files",
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
    # Further files of this recording among the neighbours (library/recordings.py), shown once: here.
    copies: int = 0


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


def copies_of_track(
    session: Session, track_id: int, models: Sequence[str] = SIMILARITY_MODELS
) -> list[tuple[int, str]]:
    """The other files that hold ``track_id``'s recording (library/recordings.py): (track id, path), by
    path."""
    copies = copies_of(session, similarity_index(session, models), track_id)
    if not copies:
        return []
    rows = session.execute(select(Track.id, Track.path).where(Track.id.in_(copies)).order_by(Track.path))
    return [(copy_id, path) for copy_id, path in rows]


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
    own_copies: Collection[int] | None = None,
) -> list[SimilarTrack]:
    """The ``limit`` tracks that sound most like ``track_id``, best first (library/similar.py); with
    ``key_rule`` ("same" / "compatible") and ``bpm_tolerance`` (a fraction, half and double tempo
    included unless ``half_double`` is off) only those a DJ could mix into it; with ``among`` only those
    track ids (a search's result). The track's copies in other files (library/recordings.py; found here
    unless the caller has them, ``own_copies``) are left out, and a neighbour in several files is listed
    once (``copies``: how many more)."""
    index = similarity_index(session, models)
    # More than asked for: a recording in several files is listed once, at its nearest file, and the
    # list is then filled from further down.
    neighbours = index.nearest(
        track_id,
        2 * limit + 20,
        key_rule=key_rule,
        bpm_tolerance=bpm_tolerance,
        half_double=half_double,
        among=among,
        # The track's copies in other files sound exactly like it: a DJ asking what to play next wants
        # other tracks.
        exclude=copies_of(session, index, track_id) if own_copies is None else own_copies,
    )
    folded = one_per_recording(session, index, [n.track_id for n in neighbours])
    neighbours = [n for n in neighbours if n.track_id in folded][:limit]
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
        copies = len(folded[n.track_id])
        found.append(
            SimilarTrack(n.track_id, path, title, artist, duration_s, n.similarity, bpm, key, copies)
        )
    return found


# Codecs that keep every sample: a DJ keeping one file of a recording usually keeps one of these.
LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack", "ape", "tta", "truehd", "mlp"})


@dataclass(frozen=True)
class RecordingFile:
    """One file of a recording the library holds more than once, as ``list --duplicates`` shows it."""

    track_id: int
    path: str
    container: str | None
    codec: str | None
    lossless: bool
    size: int
    duration_s: float | None
    genre: tuple[str, ...]  # what the file's own tags hold (as last scanned)
    mood: tuple[str, ...]

    @property
    def format_text(self) -> str:
        """Container, codec and whether it is lossless, as a list shows them: "mp4 alac lossless"."""
        return " ".join(filter(None, (self.container, self.codec, "lossless" if self.lossless else None)))


def recordings_in_several_files(
    session: Session, *, among: Collection[int] | None = None, models: Sequence[str] = SIMILARITY_MODELS
) -> list[list[RecordingFile]]:
    """Every recording the library holds in more than one file (library/recordings.py), each as its
    files, lossless first, then the larger first; with ``among``, only the recordings one of whose files
    is among those track ids (a search's result)."""
    groups = recording_groups(session, similarity_index(session, models))
    if among is not None:
        wanted = set(among)
        groups = [group for group in groups if wanted.intersection(group)]
    ids = [track_id for group in groups for track_id in group]
    rows: dict[int, Track] = {}
    for start in range(0, len(ids), 500):  # ids per IN (...) list: SQLite limits bound parameters
        chunk = ids[start : start + 500]
        rows.update((track.id, track) for track in session.scalars(select(Track).where(Track.id.in_(chunk))))
    found = []
    for group in groups:
        files = [_recording_file(rows[track_id]) for track_id in group if track_id in rows]
        if len(files) > 1:
            found.append(sorted(files, key=lambda f: (not f.lossless, -f.size, f.path)))
    return found


def _recording_file(track: Track) -> RecordingFile:
    codec = (track.codec or "").lower()
    tags = track.file_tags or {}
    return RecordingFile(
        track.id,
        track.path,
        track.container,
        track.codec,
        codec in LOSSLESS_CODECS or codec.startswith("pcm_"),
        track.size,
        track.duration_s,
        tuple(tags.get("genre", ())),
        tuple(tags.get("mood", ())),
    )
