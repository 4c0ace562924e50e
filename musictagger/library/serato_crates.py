"""Serato crates: the playlists of a collection export as ``.crate`` files in a ``_Serato_`` folder, where
Serato DJ finds them at its next start (``~/Music/_Serato_`` for the computer's own drive, ``_Serato_`` at
the root of a USB drive for the tracks on that drive).

A crate file is a run of tagged fields: a 4-letter ASCII tag, a 4-byte big-endian length, the value. A
tag beginning with ``o`` holds more fields, ``t`` and ``p`` hold UTF-16-BE text, ``b`` one byte::

    vrsn  "1.0/Serato ScratchLive Crate"          the version, first
    osrt  [tvcn "song", brev 0]                   the sort column, ascending
    ovct  [tvcn "song", tvcw "0"] …               the columns the crate shows
    otrk  [ptrk "Music/House/a.mp3"] …            a track per otrk, in order

A track's path is written from the root of the drive the ``_Serato_`` folder is on, without the drive and
with ``/`` between folders (``E:\\Music\\a.mp3`` → ``Music/a.mp3``; on a Mac ``/Users/dj/Music/a.mp3`` →
``Users/dj/Music/a.mp3``, and on a USB drive mounted at ``/Volumes/DJ`` → ``Music/a.mp3``). Serato keeps
one ``_Serato_`` per drive, so a track on another drive than the folder's cannot be in its crates: it is
left out, and the caller is told. A crate holds only paths: Serato reads genre, comment (the mood block),
BPM and key from the files' own tags, so the tags are written first.

Nesting is in the file name: ``Subcrates/musictagger%%Genre%%House.crate`` is the crate *House* inside
*Genre* inside *musictagger*; each parent gets its own (empty) crate file, as Serato writes them. An
export replaces the crates of its own top folder (``musictagger%%…``) that it no longer writes, so a
mood no track carries any more does not linger; no other crate is touched. Each file is written
atomically.
"""

from __future__ import annotations

import ntpath
import os
import re
import struct
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath, PureWindowsPath

from musictagger.atomic import write_atomically
from musictagger.library.rekordbox import RekordboxDocument, check_members

VERSION = "1.0/Serato ScratchLive Crate"
SERATO_FOLDER = "_Serato_"
SUBCRATES = "Subcrates"
#: Serato's separator between a crate and the crates it sits in, in a crate's file name.
NESTING = "%%"
#: The columns an exported crate shows, in order (Serato's own column names).
COLUMNS = ("song", "artist", "bpm", "key", "genre", "comment", "length", "album")
# Characters a file name cannot hold on Windows or macOS, and "%%", which would nest the crate.
_NOT_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]|%%')


def field(tag: str, value: bytes) -> bytes:
    """One tagged field: the tag, the value's length (4 bytes, big-endian), the value."""
    encoded = tag.encode("ascii")
    if len(encoded) != 4:
        raise ValueError(f"a crate field's tag has 4 letters, not {tag!r}")
    return encoded + struct.pack(">I", len(value)) + value


def text(tag: str, value: str) -> bytes:
    return field(tag, value.encode("utf-16-be", "replace"))


def crate_bytes(track_paths: Iterable[str]) -> bytes:
    """A crate holding ``track_paths`` (already relative to the drive root, ``/``-separated), in order."""
    parts = [text("vrsn", VERSION), field("osrt", text("tvcn", "song") + field("brev", b"\x00"))]
    parts += [field("ovct", text("tvcn", column) + text("tvcw", "0")) for column in COLUMNS]
    parts += [field("otrk", text("ptrk", path)) for path in track_paths]
    return b"".join(parts)


def read_crate(data: bytes) -> list[str]:
    """The track paths of a crate, in order; ValueError for bytes that are not a crate."""
    paths: list[str] = []
    for tag, value in _fields(data):
        if tag == "otrk":
            paths += [v.decode("utf-16-be") for t, v in _fields(value) if t == "ptrk"]
    return paths


def _fields(data: bytes) -> list[tuple[str, bytes]]:
    found, at = [], 0
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError(f"a crate field is cut short at byte {at}")
        tag = data[at : at + 4].decode("ascii", "replace")
        (length,) = struct.unpack(">I", data[at + 4 : at + 8])
        if at + 8 + length > len(data):
            raise ValueError(f"the crate field {tag!r} at byte {at} runs past the end")
        found.append((tag, data[at + 8 : at + 8 + length]))
        at += 8 + length
    return found


def drive_root(folder: str | os.PathLike, *, platform: str = sys.platform) -> Path:
    """The root of the drive ``folder`` is on, as Serato counts drives: on Windows the drive (``E:\\``);
    on macOS ``/Volumes/NAME`` for an external drive and ``/`` for the startup disk (whose folders
    Catalina and later mount from a second volume: a mount-point test would wrongly stop at ``/Users``);
    elsewhere the nearest mount point at or above ``folder``."""
    if platform == "win32":
        return Path(PureWindowsPath(ntpath.abspath(folder)).anchor)
    here = Path(os.path.abspath(folder))
    if platform == "darwin":
        parts = here.parts
        if len(parts) > 2 and parts[1] == "Volumes" and os.path.realpath(Path(*parts[:3])) != "/":
            return Path(*parts[:3])
        return Path("/")
    while not os.path.ismount(here) and here.parent != here:
        here = here.parent
    return here


def serato_path(path: str | os.PathLike, root: str | os.PathLike) -> str | None:
    """``path`` as a crate on the drive at ``root`` names it (no drive, ``/`` between folders); None when
    the path is not below ``root``."""
    try:
        relative = PurePath(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return None
    return "/".join(relative.parts)


def crate_file_name(names: Sequence[str]) -> str:
    """The file of the crate at ``names`` (outermost first): ``musictagger%%Genre%%House.crate``; characters
    a file name cannot hold become ``-``."""
    return NESTING.join(_NOT_IN_NAME.sub("-", name).strip() or "-" for name in names) + ".crate"


def write_serato_crates(
    document: RekordboxDocument, serato_folder: str | os.PathLike, notes: list[str]
) -> Path:
    """Each playlist of ``document`` as a crate in ``serato_folder``/Subcrates, and each folder above it as
    an empty one; crates of the same top folders that this export no longer writes are removed. A folder
    not named ``_Serato_`` (``~/Music``, a USB drive's root) means the ``_Serato_`` folder in it. A track
    on another drive than the folder's is left out of every crate, and ``notes`` says so. The Subcrates
    folder is returned."""
    folder = Path(serato_folder).expanduser()
    if folder.name != SERATO_FOLDER:
        folder = folder / SERATO_FOLDER
    subcrates = folder / SUBCRATES
    subcrates.mkdir(parents=True, exist_ok=True)
    root = drive_root(folder)
    roots: dict[str, Path] = {}  # a folder's drive, found once per folder
    paths: dict[int, str | None] = {}
    for track in document.tracks:
        parent = os.path.dirname(track.path)
        if parent not in roots:
            roots[parent] = drive_root(parent)
        paths[track.track_id] = serato_path(track.path, root) if roots[parent] == root else None
        if paths[track.track_id] is None:
            notes.append(
                f"{track.path}: not on the drive of {folder} ({root}); Serato keeps that drive's crates "
                "in a _Serato_ folder at its root"
            )
    crates: dict[str, list[str]] = {}
    from_playlists: set[str] = set()
    for playlist in document.playlists:
        for depth in range(1, len(playlist.folders) + 1):
            crates.setdefault(crate_file_name(playlist.folders[:depth]), [])
        name = crate_file_name((*playlist.folders, playlist.name))
        if name in from_playlists:
            raise ValueError(f"two playlists would be the same crate {name!r}")
        from_playlists.add(name)
        check_members(playlist, paths)
        crates[name] = [p for i in playlist.track_ids if (p := paths[i]) is not None]
    for name, members in crates.items():
        write_atomically(subcrates / name, crate_bytes(members))
    # Only once the new crates are whole: the ones an earlier export left that this one no longer has.
    tops = {name.split(NESTING)[0].removesuffix(".crate") for name in crates}
    for old in subcrates.glob("*.crate"):
        if old.name not in crates and old.name.split(NESTING)[0].removesuffix(".crate") in tops:
            old.unlink()
    return subcrates
