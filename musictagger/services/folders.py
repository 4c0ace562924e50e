"""The library's folders: the ones the user added, kept in the index itself (``meta`` row "gui.folders",
so they travel with the index), and removing a folder's tracks from the index. Files are never touched.

    add_folders(library, ["~/Music"])            # then scan_and_analyse(library, library_folders(library), …)
    removed = remove_folder(library, "/home/me/Music/Old")
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable

from sqlalchemy import delete, func, select

from musictagger.library.db import Library
from musictagger.library.queries import tracks_under
from musictagger.library.schema import Meta, Track

FOLDERS_KEY = "gui.folders"
DELETE_CHUNK = 500  # track ids per DELETE: SQLite bounds the parameters of one statement

log = logging.getLogger(__name__)


def library_folders(library: Library) -> list[str]:
    """The folders added to the library, in the order they were added (absolute paths)."""
    with library.session() as session:
        row = session.get(Meta, FOLDERS_KEY)
        if row is None:
            return []
        try:
            folders = json.loads(row.value)
        except ValueError:
            log.warning("the index's folder list is not JSON; starting a new one")
            return []
    return [str(folder) for folder in folders] if isinstance(folders, list) else []


def _store(library: Library, folders: list[str]) -> None:
    with library.session() as session, session.begin():
        session.merge(Meta(key=FOLDERS_KEY, value=json.dumps(folders)))


def normalise_folder(folder: str | os.PathLike) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(folder)))


def add_folders(library: Library, folders: Iterable[str | os.PathLike]) -> list[str]:
    """Remember ``folders`` (made absolute; ones already known are not added twice); returns the ones
    that were new. Scanning them is the caller's next step (services.analysis.scan_and_analyse)."""
    known = library_folders(library)
    added: list[str] = []
    for folder in folders:
        path = normalise_folder(folder)
        if path not in known and path not in added:
            added.append(path)
    if added:
        _store(library, known + added)
    return added


def remove_folder(library: Library, folder: str | os.PathLike) -> int:
    """Forget ``folder`` and every indexed track under it (analyses, labels and reviews go with them);
    the files stay untouched. Returns how many tracks were removed from the index."""
    path = normalise_folder(folder)
    with library.session() as session, session.begin():
        ids = [track.id for track in tracks_under(session, path, include_missing=True)]
        for start in range(0, len(ids), DELETE_CHUNK):
            # Analyses, labels and reviews go with their track (ON DELETE CASCADE).
            session.execute(delete(Track).where(Track.id.in_(ids[start : start + DELETE_CHUNK])))
    known = library_folders(library)
    if path in known or os.fspath(folder) in known:
        _store(library, [f for f in known if f not in (path, os.fspath(folder))])
    return len(ids)


def is_empty(library: Library) -> bool:
    """No track indexed and no folder added: the app shows its first-run screen."""
    with library.session() as session:
        has_tracks = session.scalar(select(func.count()).select_from(Track))
    return not has_tracks and not library_folders(library)
