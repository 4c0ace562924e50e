"""The library's tracks for DJ software: M3U8 playlists (Rekordbox, Serato and Traktor import them), and a
collection with playlists per genre and mood as Rekordbox XML (Rekordbox, Lexicon and most DJ tools import
it), as Traktor NML (Traktor's Import Playlist) or as Serato crates: one document, a writer per format.

Both take the tracks ``list`` would list (genre, mood, text, energy, BPM, key: services.search.find);
the collection exports also take any track ids (the app's selection or filtered view).

What the collection says of a track is what a tag write with the user's settings would leave in the
file (reviews honoured, services.suggest): Genre is the file's genre after the write's fill / merge /
replace, Comments the file's first comment with the DJ comment block ``[mood: … | genre: … | energy: 6]``
set in it (always: DJ software has no mood column, so the block is how moods reach it). Importing it
thus gives the DJ software the tags without touching a file. Its playlists are the app's facets: one per
confident genre (styles too) and mood, under ``musictagger/Genre`` and ``musictagger/Mood``, plus
``musictagger/All tracks``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from musictagger.keys import try_parse_key
from musictagger.library.db import Library
from musictagger.library.policy import LABEL_FIELDS, comment_with_block, resolve_field
from musictagger.library.queries import FILTER_CATEGORIES, export_m3u8, tracks_by_id
from musictagger.library.rekordbox import (
    RekordboxDocument,
    RekordboxPlaylist,
    RekordboxTrack,
    kind_of,
    location_of,
    write_rekordbox_xml,
)
from musictagger.library.schema import Track
from musictagger.library.serato_crates import write_serato_crates
from musictagger.library.traktor_nml import write_traktor_nml
from musictagger.services.search import TrackQuery, find
from musictagger.services.suggest import FieldSuggestion, track_suggestions
from musictagger.settings import Settings
from musictagger.taxonomy import Vocabulary

#: The folder every exported playlist sits in, so an import never mixes with the user's own playlists.
TOP_FOLDER = "musictagger"
ALL_TRACKS = "All tracks"
#: Playlist folder per facet, and the label categories it gathers (a genre facet holds styles too).
FACET_FOLDERS = {"Genre": FILTER_CATEGORIES["genre"], "Mood": FILTER_CATEGORIES["mood"]}


def export_playlist(
    library: Library, vocabulary: Vocabulary, out: str | os.PathLike, query: TrackQuery | None = None
) -> tuple[Path, int]:
    """Write the tracks ``list`` would list for ``query`` (services.search.find), in its order, to ``out``
    atomically; (the file, tracks in it)."""
    with library.session() as session:
        tracks = find(session, vocabulary, query or TrackQuery())
        path = export_m3u8(tracks, out)
    return path, len(tracks)


@dataclass(frozen=True)
class CollectionExport:
    """What an export wrote, and what it could not: ``notes`` name each track left out or changed."""

    path: Path
    tracks: int
    playlists: int
    notes: tuple[str, ...] = ()


#: What writes each collection format (``software`` below): one document, a writer per DJ program. Each
#: takes the document, where to write it and the notes to add to (a track a format could not hold).
COLLECTION_WRITERS: dict[str, Callable[[RekordboxDocument, str | os.PathLike, list[str]], Path]] = {
    "rekordbox": lambda document, out, _notes: write_rekordbox_xml(document, out),
    "traktor": lambda document, out, _notes: write_traktor_nml(document, out),
    "serato": write_serato_crates,
}


def export_collection(
    library: Library,
    vocabulary: Vocabulary,
    settings: Settings,
    out: str | os.PathLike,
    query: TrackQuery | None = None,
    *,
    software: str = "rekordbox",
) -> CollectionExport:
    """The collection and facet playlists of the tracks ``list`` would list for ``query`` (a label counts
    when it is confident, as in the app's facets, or at its ``min_score``), written to ``out`` atomically
    as ``software`` reads it (``COLLECTION_WRITERS``: Rekordbox XML, Traktor NML; for Serato ``out`` is a
    ``_Serato_`` folder and the playlists become crates in it)."""
    with library.session() as session:
        tracks = find(session, vocabulary, query or TrackQuery())
        return _export(session, tracks, vocabulary, settings, out, [], COLLECTION_WRITERS[software])


def export_collection_tracks(
    library: Library,
    vocabulary: Vocabulary,
    settings: Settings,
    out: str | os.PathLike,
    track_ids: Iterable[int],
    *,
    software: str = "rekordbox",
) -> CollectionExport:
    """``export_collection`` of exactly these tracks, in this order (the app's selection or filtered view).
    Ids not in the index, and tracks whose file is missing, are left out (noted)."""
    with library.session() as session:
        tracks, notes = _present_tracks(session, track_ids)
        return _export(session, tracks, vocabulary, settings, out, notes, COLLECTION_WRITERS[software])


def export_playlist_tracks(
    library: Library, out: str | os.PathLike, track_ids: Iterable[int]
) -> tuple[Path, int, tuple[str, ...]]:
    """An M3U8 playlist of exactly these tracks, in this order (the app's selection or filtered view);
    (the file, tracks in it, a note per track left out)."""
    with library.session() as session:
        tracks, notes = _present_tracks(session, track_ids)
        return export_m3u8(tracks, out), len(tracks), tuple(notes)


def _present_tracks(session: Session, track_ids: Iterable[int]) -> tuple[list[Track], list[str]]:
    """The index rows of ``track_ids`` in that order, without ids not in the index or files missing since
    the last scan; a note for each one left out."""
    ids = list(dict.fromkeys(track_ids))
    rows = tracks_by_id(session, ids)
    notes = [f"track {i}: not in the library index" for i in ids if i not in rows]
    notes += [
        f"{rows[i].path}: file missing since the last scan"
        for i in ids
        if i in rows and rows[i].missing_since
    ]
    return [rows[i] for i in ids if i in rows and rows[i].missing_since is None], notes


def _export(
    session: Session,
    tracks: Sequence[Track],
    vocabulary: Vocabulary,
    settings: Settings,
    out: str | os.PathLike,
    notes: list[str],
    write: Callable[[RekordboxDocument, str | os.PathLike, list[str]], Path],
) -> CollectionExport:
    document = rekordbox_document(session, tracks, vocabulary, settings, notes)
    path = write(document, out, notes)
    return CollectionExport(path, len(document.tracks), len(document.playlists), tuple(notes))


def rekordbox_document(
    session: Session,
    tracks: Sequence[Track],
    vocabulary: Vocabulary,
    settings: Settings,
    notes: list[str] | None = None,
) -> RekordboxDocument:
    """The collection and facet playlists of ``tracks`` (with their labels loaded). A track whose comment
    block cannot be built (a reviewed value holding ``[ ] | ;``) keeps its file's comment, and ``notes``
    says so."""
    notes = notes if notes is not None else []
    suggestions = track_suggestions(session, vocabulary, [t.id for t in tracks], settings)
    separator = settings.write_policy().id3v23_separator
    entries = tuple(
        rekordbox_track(track, suggestions[track.id], vocabulary, separator, notes) for track in tracks
    )
    return RekordboxDocument(
        entries, facet_playlists(tracks, settings.display.threshold, vocabulary.style_families)
    )


def rekordbox_track(
    track: Track,
    fields: Mapping[str, FieldSuggestion],
    vocabulary: Vocabulary,
    separator: str,
    notes: list[str],
) -> RekordboxTrack:
    """One index row as a Rekordbox TRACK: its tags as a write would leave them (module docstring)."""
    tags = track.file_tags or {}
    path = os.fsdecode(track.path_key)
    key = try_parse_key(track.key)
    genre = resolve_field(fields["genre"].mode, tags.get("genre", []), fields["genre"].values, vocabulary)
    block = {name: list(fields[name].values) for name in LABEL_FIELDS}
    block["energy"] = [str(round(track.energy))] if track.energy is not None else []
    try:
        comments = comment_with_block(tags.get("comment", []), block)
    except ValueError as exc:
        notes.append(f"{track.path}: comment without the DJ block ({exc})")
        comments = list(tags.get("comment", []))
    return RekordboxTrack(
        track_id=track.id,
        location=location_of(path),
        name=track.title or os.path.splitext(os.path.basename(path))[0],
        artist=track.artist or "",
        album=track.album or "",
        genre=separator.join(genre),
        kind=kind_of(path),
        size=track.size,
        total_time=round(track.duration_s) if track.duration_s else None,
        average_bpm=round(track.bpm, 2) if track.bpm else None,
        tonality=key.short if key is not None else None,  # "Am", "F#", "Ebm": Rekordbox's musical form
        comments=comments[0] if comments else "",
    )


def facet_playlists(
    tracks: Sequence[Track], min_score: float, style_families: Mapping[str, str] | None = None
) -> tuple[RekordboxPlaylist, ...]:
    """``musictagger/All tracks``, then a playlist per confident label at ``min_score`` or above, per facet
    (alphabetical), tracks in the export's order. A style's playlist is named with the family it refines
    ("Rock › Metal", from ``style_families``), so it follows its family's, as in the app's genre facet."""
    style_families = style_families or {}
    # {folder: {name: {track id: None}}}: ordered sets, a track once per playlist
    members: dict[str, dict[str, dict[int, None]]] = {folder: {} for folder in FACET_FOLDERS}
    for track in tracks:
        for label in track.labels:
            if not label.confident or label.score < min_score:
                continue
            name = label.label
            if label.category == "style" and label.label in style_families:
                name = f"{style_families[label.label]} › {label.label}"
            for folder, categories in FACET_FOLDERS.items():
                if label.category in categories:
                    members[folder].setdefault(name, {})[track.id] = None
    playlists = [RekordboxPlaylist((TOP_FOLDER,), ALL_TRACKS, tuple(t.id for t in tracks))]
    for folder, by_label in members.items():
        for label in sorted(by_label, key=str.casefold):
            playlists.append(RekordboxPlaylist((TOP_FOLDER, folder), label, tuple(by_label[label])))
    return tuple(playlists)
