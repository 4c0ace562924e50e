"""Traktor NML: the collection and playlist file Native Instruments Traktor Pro (3 and 4) reads through
*Import Playlist* (right-click on Playlists) and keeps as its own ``collection.nml``. The same tracks and
playlists as the Rekordbox export (a ``RekordboxDocument`` in), an atomically written file out.

The layout is Traktor's own (``VERSION="19"``), as Traktor writes it::

    <?xml version="1.0" encoding="UTF-8" standalone="no" ?>
    <NML VERSION="19">
      <HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"/>
      <MUSICFOLDERS/>
      <COLLECTION ENTRIES="1">                        ENTRIES = the number of ENTRY children
        <ENTRY TITLE="…" ARTIST="…">
          <LOCATION DIR="/:Users/:dj/:Music/:" FILE="a.mp3" VOLUME="Macintosh HD" VOLUMEID="Macintosh HD"/>
          <ALBUM TITLE="…"/>
          <INFO GENRE="…" COMMENT="…" KEY="1m" PLAYTIME="412" FILESIZE="9731"/>   FILESIZE in KiB
          <TEMPO BPM="124.000000" BPM_QUALITY="100.000000"/>
          <MUSICAL_KEY VALUE="21"/>                   0–11 C…B major, 12–23 C…B minor
        </ENTRY>
      </COLLECTION>
      <SETS ENTRIES="0"/>
      <PLAYLISTS>
        <NODE TYPE="FOLDER" NAME="$ROOT">
          <SUBNODES COUNT="1">                        COUNT = the number of NODE children
            <NODE TYPE="PLAYLIST" NAME="House">
              <PLAYLIST ENTRIES="1" TYPE="LIST" UUID="…">
                <ENTRY><PRIMARYKEY TYPE="TRACK" KEY="Macintosh HD/:Users/:dj/:Music/:a.mp3"/></ENTRY>

A track is named by where it lies: a VOLUME, the folders from that volume's root as ``DIR`` (each one
preceded by ``/:``, the whole ending in ``/:``) and the ``FILE`` name; a playlist entry's KEY is the three
run together. The volume is what Traktor calls it on the machine that imports the file: the drive (``C:``)
on Windows; on macOS the disk under ``/Volumes/NAME`` (a USB stick) or the startup disk's name for every
other path; and on Linux, where Traktor does not run, the stick or disk mounted at ``/media/USER/NAME``,
``/run/media/USER/NAME`` or ``/mnt/NAME``, so that a stick prepared here is found on the DJ's Mac or PC;
any other Linux path keeps its whole path under an empty volume.

The layout follows collections Traktor wrote (its element and attribute names, the key numbers, the
``/:`` paths); no Traktor runs where this is tested, so the tests read the file back against that layout.

KEY is the key in Open Key notation, which Traktor shows by default; MUSICAL_KEY is the same key as the
number Traktor sorts and matches by. Text is XML-escaped by ElementTree, and what XML 1.0 cannot hold
becomes U+FFFD (``rekordbox.xml_text``).
"""

from __future__ import annotations

import os
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from musictagger.atomic import write_atomically
from musictagger.keys import Key, try_parse_key
from musictagger.library.rekordbox import (
    RekordboxDocument,
    RekordboxFormatError,
    RekordboxPlaylist,
    RekordboxTrack,
    check_members,
    claim_name,
    xml_text,
)

NML_VERSION = "19"
ROOT_NAME = "$ROOT"
#: Separates the folders of a DIR, and begins it.
DIR_SEPARATOR = "/:"
#: What macOS names its startup disk unless the user renamed it (``/Volumes`` says otherwise).
MACOS_STARTUP_VOLUME = "Macintosh HD"
#: Playlist UUIDs are derived from the playlist's place, so a new export of the same crate keeps its UUID.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://musictagger/traktor-nml")


@dataclass(frozen=True)
class NmlLocation:
    """Where Traktor finds a file: its volume, the folders from the volume's root, the file's name."""

    volume: str
    directory: str  # "/:Users/:dj/:Music/:"
    file: str

    @property
    def primary_key(self) -> str:
        """How a playlist entry names the track: "Macintosh HD/:Users/:dj/:Music/:a.mp3"."""
        return self.volume + self.directory + self.file


def nml_location(
    path: str | os.PathLike, *, platform: str = sys.platform, startup_disk: str | None = None
) -> NmlLocation:
    """The NML location of an absolute ``path`` on ``platform`` (``sys.platform``'s names); on macOS a
    path outside ``/Volumes`` lies on ``startup_disk`` (default: ``startup_volume()``, read once per call,
    so a caller naming many files reads it once and passes it). Module docstring for the rules."""
    text = os.fsdecode(os.fspath(path))
    if platform == "win32":
        windows = PureWindowsPath(text)
        if not windows.drive:
            raise ValueError(f"an NML location needs an absolute path, not {text!r}")
        return _location(windows.drive, windows.parts[1:])
    posix = PurePosixPath(text)
    if not posix.is_absolute():
        raise ValueError(f"an NML location needs an absolute path, not {text!r}")
    parts = posix.parts[1:]
    if platform == "darwin":
        if len(parts) > 2 and parts[0] == "Volumes":
            return _location(parts[1], parts[2:])
        return _location(startup_disk if startup_disk is not None else startup_volume(), parts)
    for prefix in (("media", None), ("run", "media", None), ("mnt",)):
        # (None: the user's folder in the mount path, any name)
        depth = len(prefix)
        if len(parts) > depth + 1 and all(p is None or p == q for p, q in zip(prefix, parts, strict=False)):
            return _location(parts[depth], parts[depth + 1 :])
    return _location("", parts)


def _location(volume: str, parts: Sequence[str]) -> NmlLocation:
    *folders, name = parts
    return NmlLocation(
        volume, DIR_SEPARATOR + "".join(f"{folder}{DIR_SEPARATOR}" for folder in folders), name
    )


def startup_volume(volumes: str | os.PathLike = "/Volumes") -> str:
    """The macOS startup disk's name: the entry of ``/Volumes`` that links to ``/`` (macOS keeps one),
    else "Macintosh HD", the name macOS gives it."""
    try:
        for entry in os.scandir(volumes):
            if entry.is_symlink() and os.path.realpath(entry.path) == "/":
                return entry.name
    except OSError:
        pass
    return MACOS_STARTUP_VOLUME


def musical_key_value(key: Key) -> int:
    """Traktor's MUSICAL_KEY: the pitch class from C (0–11) for a major key, 12 more for a minor one."""
    return key.pitch_class + (12 if key.is_minor else 0)


# -- writing ----------------------------------------------------------------------------------------------


def write_traktor_nml(document: RekordboxDocument, out: str | os.PathLike) -> Path:
    """Write ``document`` to ``out`` atomically (the old file stays whole until the new one is complete)."""
    target = Path(out).expanduser()
    write_atomically(target, traktor_nml_bytes(document))
    return target


def traktor_nml_bytes(
    document: RekordboxDocument, *, platform: str = sys.platform, startup_disk: str | None = None
) -> bytes:
    """The document as Traktor NML, UTF-8; RekordboxFormatError for a track twice in the collection, a
    playlist naming a track not in it, or two nodes of one name in one folder (as the Rekordbox writer)."""
    root = ET.Element("NML", VERSION=NML_VERSION)
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
    ET.SubElement(root, "MUSICFOLDERS")
    collection = ET.SubElement(root, "COLLECTION", ENTRIES=str(len(document.tracks)))
    keys: dict[int, str] = {}
    if platform == "darwin" and startup_disk is None:
        startup_disk = startup_volume()
    for track in document.tracks:
        if track.track_id in keys:
            raise RekordboxFormatError(f"track {track.track_id} appears twice in the collection")
        location = nml_location(track.path, platform=platform, startup_disk=startup_disk)
        keys[track.track_id] = location.primary_key
        _entry(collection, track, location)
    ET.SubElement(root, "SETS", ENTRIES="0")
    top = ET.SubElement(ET.SubElement(root, "PLAYLISTS"), "NODE", TYPE="FOLDER", NAME=ROOT_NAME)
    _playlist_tree(top, document.playlists, keys)
    ET.indent(root, space=" ")
    # The declaration as Traktor writes it (ElementTree's own uses single quotes and no standalone).
    declaration = b'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
    return declaration + ET.tostring(root, encoding="utf-8") + b"\n"


def _entry(collection: ET.Element, track: RekordboxTrack, location: NmlLocation) -> None:
    """One ENTRY: what the track is, where it lies, its tags, tempo and key; unknown values left out."""
    entry = ET.SubElement(collection, "ENTRY", _present(TITLE=track.name, ARTIST=track.artist))
    ET.SubElement(
        entry,
        "LOCATION",
        {
            "DIR": xml_text(location.directory),
            "FILE": xml_text(location.file),
            "VOLUME": xml_text(location.volume),
            "VOLUMEID": xml_text(location.volume),
        },
    )
    if track.album:
        ET.SubElement(entry, "ALBUM", TITLE=xml_text(track.album))
    key = try_parse_key(track.tonality)
    info = _present(
        GENRE=track.genre,
        COMMENT=track.comments,
        KEY=key.open_key if key else "",
        PLAYTIME="" if track.total_time is None else str(track.total_time),
        FILESIZE="" if track.size is None else str(round(track.size / 1024)),
    )
    ET.SubElement(entry, "INFO", info)
    if track.average_bpm:
        ET.SubElement(entry, "TEMPO", BPM=f"{track.average_bpm:.6f}", BPM_QUALITY="100.000000")
    if key is not None:
        ET.SubElement(entry, "MUSICAL_KEY", VALUE=str(musical_key_value(key)))


def _present(**attributes: str) -> dict[str, str]:
    """The non-empty attributes, XML-safe: Traktor reads a missing attribute as unknown."""
    return {name: xml_text(value) for name, value in attributes.items() if value}


def _playlist_tree(root: ET.Element, playlists: Sequence[RekordboxPlaylist], keys: dict[int, str]) -> None:
    """Folders and playlists under ``root`` in the order first named, each folder's children in a
    SUBNODES whose COUNT is set from them."""
    children: dict[tuple[str, ...], ET.Element] = {(): ET.SubElement(root, "SUBNODES")}
    names: dict[tuple[str, ...], set[str]] = {(): set()}
    for playlist in playlists:
        parent: tuple[str, ...] = ()
        for name in playlist.folders:
            here = (*parent, name)
            if here not in children:
                claim_name(names, parent, name, root=ROOT_NAME)
                folder = ET.SubElement(children[parent], "NODE", TYPE="FOLDER", NAME=xml_text(name))
                children[here] = ET.SubElement(folder, "SUBNODES")
                names[here] = set()
            parent = here
        claim_name(names, parent, playlist.name, root=ROOT_NAME)
        check_members(playlist, keys)
        node = ET.SubElement(children[parent], "NODE", TYPE="PLAYLIST", NAME=xml_text(playlist.name))
        place = "/".join((*playlist.folders, playlist.name))
        entries = ET.SubElement(
            node,
            "PLAYLIST",
            ENTRIES=str(len(playlist.track_ids)),
            TYPE="LIST",
            UUID=uuid.uuid5(_UUID_NAMESPACE, place).hex,
        )
        for track_id in playlist.track_ids:
            ET.SubElement(
                ET.SubElement(entries, "ENTRY"), "PRIMARYKEY", TYPE="TRACK", KEY=xml_text(keys[track_id])
            )
    for subnodes in children.values():
        subnodes.set("COUNT", str(len(subnodes)))
