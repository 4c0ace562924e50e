"""Reading Rekordbox XML (``DJ_PLAYLISTS``) back into rekordbox.py's dataclasses: proves an export
round-trips, and is where importing another tool's collection starts.

Lenient where DJ software differs and the meaning is clear: Rekordbox writes ``AverageBpm="0.00"`` and
``Tonality=""`` for "not analysed" (read as None), other tools leave attributes out, playlists may name their
tracks by Location (``KeyType="1"``) instead of TrackID. Strict where guessing would mislead: a root that is
not DJ_PLAYLISTS, a TrackID or number that is not one (RekordboxFormatError names the track and attribute).
A playlist's key that names no track of the collection is dropped, as Rekordbox drops it.

Safe to read an untrusted file: ElementTree never fetches external entities, and the bundled expat
(2.4.1 and later) refuses the entity-expansion bombs ("billion laughs").
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

from musictagger.library.rekordbox import (
    FOLDER,
    PLAYLIST,
    RekordboxDocument,
    RekordboxFormatError,
    RekordboxPlaylist,
    RekordboxProduct,
    RekordboxTrack,
    path_of_location,
)

_KEY_BY_LOCATION = "1"


def read_rekordbox_xml(path: str | os.PathLike) -> RekordboxDocument:
    """The tracks, playlists (flattened: each with its folders) and product of a Rekordbox XML file."""
    try:
        root = ET.parse(os.fspath(path)).getroot()
    except ET.ParseError as exc:
        raise RekordboxFormatError(f"{os.fspath(path)} is not well-formed XML: {exc}") from None
    return parse_rekordbox_xml(root)


def parse_rekordbox_xml(root: ET.Element) -> RekordboxDocument:
    """The document under an already parsed ``DJ_PLAYLISTS`` element."""
    if root.tag != "DJ_PLAYLISTS":
        raise RekordboxFormatError(f"the root element is {root.tag}, not DJ_PLAYLISTS")
    product = root.find("PRODUCT")
    made_by = product.attrib if product is not None else {}
    tracks = tuple(_track(element) for element in root.iterfind("COLLECTION/TRACK"))
    by_location = {_location_key(t.location): t.track_id for t in tracks}
    known = {t.track_id for t in tracks}
    playlists: list[RekordboxPlaylist] = []
    top = root.find("PLAYLISTS/NODE")  # ROOT
    if top is not None:
        playlists.extend(_playlists(top, (), known, by_location))
    return RekordboxDocument(
        tracks=tracks,
        playlists=tuple(playlists),
        product=RekordboxProduct(
            name=made_by.get("Name", ""),
            version=made_by.get("Version", ""),
            company=made_by.get("Company", ""),
        ),
    )


def _track(element: ET.Element) -> RekordboxTrack:
    track_id = _number(element, "TrackID", int, element.get("TrackID"))
    if track_id is None:
        raise RekordboxFormatError(f"a TRACK without a TrackID (Location {element.get('Location')!r})")
    bpm = _number(element, "AverageBpm", float, track_id)
    return RekordboxTrack(
        track_id=track_id,
        location=element.get("Location", ""),
        name=element.get("Name", ""),
        artist=element.get("Artist", ""),
        album=element.get("Album", ""),
        genre=element.get("Genre", ""),
        kind=element.get("Kind", ""),
        size=_number(element, "Size", int, track_id),
        total_time=_number(element, "TotalTime", int, track_id),
        average_bpm=bpm or None,  # 0.00: not analysed
        tonality=element.get("Tonality") or None,
        comments=element.get("Comments", ""),
    )


def _number(element: ET.Element, name: str, kind: Callable[[str], int | float], track: object):
    text = element.get(name)
    if text is None or not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        raise RekordboxFormatError(f"track {track}: {name}={text!r} is not a number") from None


def _playlists(
    node: ET.Element, folders: tuple[str, ...], known: set[int], by_location: dict[bytes, int]
) -> Iterator[RekordboxPlaylist]:
    """Every playlist under folder ``node``, depth first, in document order."""
    for child in node.iterfind("NODE"):
        name = child.get("Name", "")
        if child.get("Type") == FOLDER:
            yield from _playlists(child, (*folders, name), known, by_location)
        elif child.get("Type") == PLAYLIST:
            by_path = child.get("KeyType") == _KEY_BY_LOCATION
            ids = []
            for entry in child.iterfind("TRACK"):
                key = entry.get("Key", "")
                track_id = by_location.get(_location_key(key)) if by_path else _int_or_none(key)
                if track_id in known:
                    ids.append(track_id)
            yield RekordboxPlaylist(folders=folders, name=name, track_ids=tuple(ids))


def _location_key(location: str) -> bytes:
    """What two spellings of one Location share (escapes in either case, a raw '#' or '%23')."""
    try:
        return os.fsencode(path_of_location(location, windows=False))
    except ValueError:
        return location.encode("utf-8", "surrogatepass")


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
