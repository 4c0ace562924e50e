"""Rekordbox XML (``DJ_PLAYLISTS``): the collection and playlist file Rekordbox, Lexicon and most DJ tools
import. Plain dataclasses in, an atomically written file out; ``rekordbox_reader.read_rekordbox_xml`` reads
it back.

The format is Pioneer's "rekordbox XML format list" (rekordbox.com, developer page), as Rekordbox itself
writes it::

    <?xml version="1.0" encoding="UTF-8"?>
    <DJ_PLAYLISTS Version="1.0.0">
      <PRODUCT Name="musictagger" Version="0.1.0" Company="musictagger"/>
      <COLLECTION Entries="2">                       Entries = the number of TRACK children
        <TRACK TrackID="7" Name="…" Artist="…" Album="…" Genre="…" Kind="MP3 File" Size="…"
               TotalTime="412" AverageBpm="124.00" Comments="…" Location="file://localhost/…"
               Tonality="Am"/>
      </COLLECTION>
      <PLAYLISTS>
        <NODE Type="0" Name="ROOT" Count="1">        Type 0 = folder, Count = its child nodes
          <NODE Type="1" Name="House" KeyType="0" Entries="2">   Type 1 = playlist, KeyType 0 = by TrackID
            <TRACK Key="7"/> …

Location is a ``file://localhost/`` URI of the file's bytes: every byte outside the URI's unreserved set and
``/ : ( )`` is percent-encoded as ``%xx`` (lower-case hex, as Rekordbox writes, e.g.
``…/haircuts%20for%20men%20-%20%e8%8a%b1….aiff``). So spaces, non-ASCII names, ``#``, ``%``, ``&`` and ``;``
all survive, a non-UTF-8 POSIX name too, and any URI decoder gives the same path back. A Windows path
``C:\\Music\\a b.mp3`` becomes ``file://localhost/C:/Music/a%20b.mp3``.

Text attributes are XML-escaped by ElementTree (never by hand); characters XML 1.0 cannot carry (control
characters, the lone surrogates of an undecodable file name) become U+FFFD rather than an unreadable file.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes

from musictagger import __version__
from musictagger.atomic import write_atomically

FORMAT_VERSION = "1.0.0"
LOCATION_PREFIX = "file://localhost"
#: NODE Type: a folder of nodes, or a playlist of tracks.
FOLDER, PLAYLIST = "0", "1"
#: KeyType of a playlist whose TRACK Keys are TrackIDs (1 would mean Locations).
KEY_BY_TRACK_ID = "0"

# Bytes a Location keeps as they are: RFC 3986's unreserved characters, the path separator, the drive
# colon of a Windows path and the parentheses of "(Original Mix)", which Rekordbox leaves unencoded too.
_LOCATION_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:()")
_WINDOWS_DRIVE = re.compile(rb"^/?[A-Za-z]:/")
# What XML 1.0 cannot hold (Char production): control characters and lone surrogates.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class RekordboxFormatError(ValueError):
    """A document that is not Rekordbox XML, or one this module would not write (names the problem)."""


@dataclass(frozen=True)
class RekordboxTrack:
    """One TRACK of the COLLECTION. Empty text and None numbers are "unknown"; None attributes are left out
    (Rekordbox then analyses or asks for them itself)."""

    track_id: int
    location: str  # location_of(path); path_of_location gives the path back
    name: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    kind: str = ""  # "MP3 File", "FLAC File": kind_of(path)
    size: int | None = None  # bytes
    total_time: int | None = None  # whole seconds
    average_bpm: float | None = None  # written with two decimals, as Rekordbox does
    tonality: str | None = None  # the key: "Am", "F#", "Bbm" (Rekordbox's musical short form)
    comments: str = ""

    @property
    def path(self) -> str:
        return path_of_location(self.location)


@dataclass(frozen=True)
class RekordboxPlaylist:
    """A playlist: the folders it sits in (below ROOT, outermost first), its name, its tracks in order."""

    folders: tuple[str, ...]
    name: str
    track_ids: tuple[int, ...]


@dataclass(frozen=True)
class RekordboxProduct:
    """Who wrote the file (shown by the importing software)."""

    name: str = "musictagger"
    version: str = __version__
    company: str = "musictagger"


@dataclass(frozen=True)
class RekordboxDocument:
    tracks: tuple[RekordboxTrack, ...]
    playlists: tuple[RekordboxPlaylist, ...] = ()
    product: RekordboxProduct = field(default_factory=RekordboxProduct)


# -- Location ---------------------------------------------------------------------------------------------


def location_of(path: str | bytes | os.PathLike, *, windows: bool = os.name == "nt") -> str:
    """The ``file://localhost/…`` URI of an absolute path, percent-encoded byte by byte (module docstring).

    ``windows``: the path uses backslashes and a drive letter (default: as this system does).
    """
    raw = os.fsencode(path)
    if windows:
        raw = raw.replace(b"\\", b"/")
        if _WINDOWS_DRIVE.match(raw) and not raw.startswith(b"/"):
            raw = b"/" + raw
    if not raw.startswith(b"/"):
        raise ValueError(f"a Location needs an absolute path, not {os.fsdecode(raw)!r}")
    return LOCATION_PREFIX + "".join(chr(b) if b in _LOCATION_SAFE else f"%{b:02x}" for b in raw)


def path_of_location(location: str, *, windows: bool = os.name == "nt") -> str:
    """The path a ``file://localhost/`` (or ``file:///``) Location names; ValueError for any other URI
    (a streaming service's track, say). Percent-escapes of either case are decoded; a raw ``#`` (older
    Rekordbox versions write one) is a character of the name, not a fragment."""
    for prefix in (LOCATION_PREFIX + "/", "file:///"):
        if location[: len(prefix)].lower() == prefix:
            raw = unquote_to_bytes(location[len(prefix) - 1 :])
            break
    else:
        raise ValueError(f"{location!r} is not a file://localhost/ location")
    if _WINDOWS_DRIVE.match(raw):
        raw = raw[1:]
        if windows:
            raw = raw.replace(b"/", b"\\")
    return os.fsdecode(raw)


def kind_of(path: str | os.PathLike) -> str:
    """Rekordbox's Kind for a file: "MP3 File", "FLAC File", "AIFF File" (also for .aif), "M4A File"."""
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").upper()
    extension = {"AIF": "AIFF"}.get(extension, extension)
    return f"{extension} File" if extension else ""


# -- writing ----------------------------------------------------------------------------------------------


def write_rekordbox_xml(document: RekordboxDocument, out: str | os.PathLike) -> Path:
    """Write ``document`` to ``out`` atomically (the old file stays whole until the new one is complete)."""
    target = Path(out).expanduser()
    write_atomically(target, rekordbox_xml_bytes(document))
    return target


def rekordbox_xml_bytes(document: RekordboxDocument) -> bytes:
    """The document as UTF-8 XML; RekordboxFormatError for duplicate TrackIDs, a playlist naming a track not
    in the collection, or two nodes of one name in one folder (Rekordbox refuses those)."""
    root = ET.Element("DJ_PLAYLISTS", Version=FORMAT_VERSION)
    product = document.product
    ET.SubElement(root, "PRODUCT", Name=product.name, Version=product.version, Company=product.company)
    collection = ET.SubElement(root, "COLLECTION", Entries=str(len(document.tracks)))
    ids: set[int] = set()
    for track in document.tracks:
        if track.track_id in ids:
            raise RekordboxFormatError(f"TrackID {track.track_id} appears twice in the collection")
        ids.add(track.track_id)
        ET.SubElement(collection, "TRACK", _track_attributes(track))
    playlists = ET.SubElement(root, "PLAYLISTS")
    _playlist_tree(ET.SubElement(playlists, "NODE", Type=FOLDER, Name="ROOT"), document.playlists, ids)
    ET.indent(root, space=" ")
    # The declaration as Rekordbox writes it (ElementTree's own uses single quotes).
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _track_attributes(track: RekordboxTrack) -> dict[str, str]:
    """The TRACK's attributes in the order Rekordbox writes them; unknown numbers left out."""
    numbers = {
        "Size": track.size,
        "TotalTime": track.total_time,
        "AverageBpm": None if not track.average_bpm else f"{track.average_bpm:.2f}",
    }
    attributes = {
        "TrackID": str(track.track_id),
        "Name": track.name,
        "Artist": track.artist,
        "Album": track.album,
        "Genre": track.genre,
        "Kind": track.kind,
        **{name: str(value) for name, value in numbers.items() if value is not None},
        "Comments": track.comments,
        "Location": track.location,
    }
    if track.tonality:
        attributes["Tonality"] = track.tonality
    return {name: xml_text(value) for name, value in attributes.items()}


def _playlist_tree(root: ET.Element, playlists: Sequence[RekordboxPlaylist], ids: set[int]) -> None:
    """Folders and playlists under ``root`` in the order first named; Count and Entries set from children."""
    folders: dict[tuple[str, ...], ET.Element] = {(): root}
    names: dict[tuple[str, ...], set[str]] = {(): set()}
    for playlist in playlists:
        parent = ()
        for name in playlist.folders:
            here = (*parent, name)
            if here not in folders:
                claim_name(names, parent, name)
                folders[here] = ET.SubElement(folders[parent], "NODE", Type=FOLDER, Name=xml_text(name))
                names[here] = set()
            parent = here
        claim_name(names, parent, playlist.name)
        check_members(playlist, ids)
        node = ET.SubElement(
            folders[parent],
            "NODE",
            Type=PLAYLIST,
            Name=xml_text(playlist.name),
            KeyType=KEY_BY_TRACK_ID,
            Entries=str(len(playlist.track_ids)),
        )
        for track_id in playlist.track_ids:
            ET.SubElement(node, "TRACK", Key=str(track_id))
    for folder in folders.values():
        folder.set("Count", str(len(folder)))


def check_members(playlist: RekordboxPlaylist, known: Collection[int]) -> None:
    """RekordboxFormatError if ``playlist`` names a track not in ``known`` (the collection's TrackIDs)."""
    missing = [i for i in playlist.track_ids if i not in known]
    if missing:
        raise RekordboxFormatError(
            f"playlist {playlist.name!r} names tracks not in the collection: {missing}"
        )


def claim_name(
    names: dict[tuple[str, ...], set[str]], parent: tuple[str, ...], name: str, *, root: str = "ROOT"
) -> None:
    """Note ``name`` as taken in the folder ``parent`` (a path of names below ``root``);
    RekordboxFormatError if a node of that folder already has it (the DJ software would refuse it)."""
    if name in names[parent]:
        where = "/".join(parent) or root
        raise RekordboxFormatError(f"two playlists or folders named {name!r} in {where}")
    names[parent].add(name)


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
