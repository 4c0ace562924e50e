"""Finding audio files under the paths a user names, without ever stopping on a bad folder."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from musictagger.audio import AUDIO_EXTENSIONS


@dataclass(frozen=True)
class WalkError:
    """A path that could not be listed or does not exist; reported, then the walk goes on."""

    path: str
    cause: str


def is_audio_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


@dataclass(frozen=True)
class AudioFolder:
    """The audio files the walk found in one folder (sorted by name). ``complete``: every entry of the
    folder was listed and classified, so these are all its audio files; a file named directly comes as
    a folder of one that is not complete."""

    path: str
    files: list[str]
    complete: bool


def iter_audio_files(paths: Iterable[str | os.PathLike]) -> Iterator[str | WalkError]:
    """Audio files under ``paths`` in a stable order (a folder's files by name, then its subfolders by
    name), and a ``WalkError`` per failure. See ``iter_audio_folders``."""
    for item in iter_audio_folders(paths):
        if isinstance(item, WalkError):
            yield item
        else:
            yield from item.files


def iter_audio_folders(paths: Iterable[str | os.PathLike]) -> Iterator[AudioFolder | WalkError]:
    """The audio files under ``paths`` a folder at a time (its files, then its subfolders, each by name),
    and a ``WalkError`` per failure.

    A file named directly is always yielded, whatever its extension: the user asked for it, and if it is
    not audio the decoder says so. Inside folders only known audio extensions count. Symlinked folders are
    followed once each (a loop is visited only once); hidden files and folders (``.name``) are skipped.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            yield from _walk(path, seen_dirs)
        elif os.path.exists(path):
            yield AudioFolder(os.path.dirname(path), [path], complete=False)
        elif os.path.islink(path):
            yield WalkError(path, "broken symbolic link")
        else:
            yield WalkError(path, "no such file or folder")


def _walk(top: str, seen_dirs: set[tuple[int, int]]) -> Iterator[AudioFolder | WalkError]:
    try:
        st = os.stat(top)
    except OSError as exc:
        yield WalkError(top, exc.strerror or str(exc))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield WalkError(top, f"cannot list folder: {exc.strerror or exc}")
        return
    files: list[str] = []
    folders: list[str] = []
    errors: list[WalkError] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks; loops are cut by seen_dirs
            is_file = not is_dir and entry.is_file()
        except OSError as exc:
            errors.append(WalkError(entry.path, exc.strerror or str(exc)))
            continue
        if is_dir:
            folders.append(entry.path)
        elif is_file and is_audio_name(entry.name):
            files.append(entry.path)
    yield from errors
    if files or errors:
        yield AudioFolder(top, files, complete=not errors)
    for folder in folders:
        yield from _walk(folder, seen_dirs)
