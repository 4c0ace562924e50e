"""What the last complete scan saw in each folder, so a rescan of unchanged folders reads no per-file row.

A rescan of 100,000 unchanged files read 100,000 index entries (the folders' (path, size, mtime) rows) to
compare each file with its row: 200-250 ms of the driver making rows on a 2-core machine, more than the
rest of the rescan together (docs/scale.md). A folder's files are instead compared as one: the digest of
the (path key, size, mtime) of its audio files as the walk saw them, stored by the scan that found every
one of them indexed as they are. A later walk that gives the same digest has found the folder unchanged;
one that does not (or a folder with no digest) takes the per-file path as before.

A folder with files that fail to read keeps a digest too, with those files' keys (``failed``): a rescan
that matches it reads them again, as every scan reads a failed file, and takes the rest as unchanged. The
digest can only be trusted while the folder's present index rows are the files it describes, the failed
ones with an error and no other, so any change to a track row that could break that deletes its folder's
digest, by database triggers, whoever writes (the scanner, the tag writer updating size and mtime, a
second process, a PostgreSQL client of a shared index): a row added, deleted, or changed in path, folder,
size, mtime, error or missing state. ``folder`` is the key the triggers use (``tracks.folder``: the display
text of the folder's path); ``folder_key`` (the folder's own bytes) is what a scan looks the digests up by,
as a range per scanned root. Migration steps run without the triggers, so every upgrade empties the table
(``refresh``): the next rescan reads rows once and stores digests again.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from musictagger.library.dialect_sql import execute_for_dialect

# A walked file as the digest sees it: (path, path key, size, mtime_ns), the scanner's stat tuple.
StatTuple = tuple[str, bytes, int, int]

_CHANGED_COLUMNS = "path_key, folder, size, mtime_ns, error, missing_since"

_SQLITE = (
    """CREATE TRIGGER folder_digests_track_added AFTER INSERT ON tracks
    BEGIN DELETE FROM folder_digests WHERE folder = NEW.folder; END""",
    """CREATE TRIGGER folder_digests_track_removed AFTER DELETE ON tracks
    BEGIN DELETE FROM folder_digests WHERE folder = OLD.folder; END""",
    f"""CREATE TRIGGER folder_digests_track_changed AFTER UPDATE OF {_CHANGED_COLUMNS} ON tracks
    BEGIN DELETE FROM folder_digests WHERE folder IN (OLD.folder, NEW.folder); END""",
)
_SQLITE_DROP = tuple(
    f"DROP TRIGGER IF EXISTS folder_digests_track_{event}" for event in ("added", "removed", "changed")
)

_POSTGRESQL = (
    """CREATE FUNCTION folder_digests_on_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM folder_digests WHERE folder = OLD.folder;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            DELETE FROM folder_digests WHERE folder = NEW.folder;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER folder_digests_track
    AFTER INSERT OR DELETE OR UPDATE OF {_CHANGED_COLUMNS} ON tracks
    FOR EACH ROW EXECUTE FUNCTION folder_digests_on_track()""",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS folder_digests_track ON tracks",
    "DROP FUNCTION IF EXISTS folder_digests_on_track()",
)


def create_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE, postgresql=_POSTGRESQL)


def drop_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE_DROP, postgresql=_POSTGRESQL_DROP)


def refresh(connection: Connection) -> None:
    """After a schema upgrade: no digest outlives steps that ran without the triggers; the triggers made
    again."""
    drop_triggers(connection)
    if "folder_digests" in inspect(connection).get_table_names():  # tests may stop short of 0015
        connection.execute(text("DELETE FROM folder_digests"))
        create_triggers(connection)


def digest_of(files: list[StatTuple]) -> bytes:
    """The digest of a folder's walked audio files: their (path, path key, size, mtime) in walk order (by
    name: the same order every walk). marshal's version 2 writes no back-references and no interning
    marks, so equal lists give equal bytes (and it makes no object per file: a rescan's garbage
    collections stay short); any difference (another Python's encoding, another order) can only make a
    folder look changed, which costs its file-by-file comparison, never a change missed."""
    return hashlib.blake2b(marshal.dumps(files, 2), digest_size=16).digest()


def pack_keys(keys: Iterable[bytes]) -> bytes:
    """Path keys as one value (``folder_digests.failed``): sorted, NUL-separated (no path holds a NUL)."""
    return b"\0".join(sorted(keys))


def unpack_keys(packed: bytes) -> list[bytes]:
    return packed.split(b"\0") if packed else []
