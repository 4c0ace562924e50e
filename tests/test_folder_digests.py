"""A rescan compares each folder's files with the digest the last scan stored and reads no index row when
they match (library/folder_digests.py): the digests, the triggers that drop them, and scans that trust
them finding every kind of change, on SQLite and PostgreSQL."""

import os
import shutil

import pytest
from conftest import FORMATS
from sqlalchemy import event, select, update
from test_library_scan import n_audio

from musictagger.library import Track, scanner
from musictagger.library.scanner import scan
from musictagger.library.schema import FolderDigest


def stored_digests(library) -> dict[bytes, int]:
    with library.session() as session:
        return {bytes(k): n for k, n in session.execute(select(FolderDigest.folder_key, FolderDigest.files))}


def folders_of(music) -> dict[bytes, int]:
    """Each folder holding audio, with its number of audio files, as the walk sees them."""
    counts: dict[bytes, int] = {}
    for path in music.rglob("*"):
        if path.is_file() and path.suffix != ".jpg":
            key = os.fsencode(path.parent)
            counts[key] = counts.get(key, 0) + 1
    return counts


def index_matches_disk(library, music) -> None:
    """Every present row is a file as it is on disk, and every audio file has a present row."""
    with library.session() as session:
        present = {
            bytes(key): (size, mtime)
            for key, size, mtime in session.execute(
                select(Track.path_key, Track.size, Track.mtime_ns).where(Track.missing_since.is_(None))
            )
        }
    on_disk = {
        os.fsencode(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in music.rglob("*")
        if p.is_file() and p.suffix != ".jpg"
    }
    assert present == on_disk


class Statements:
    """The SQL the library's engine sends while open."""

    def __init__(self, library):
        self.engine, self.sent = library.engine, []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.sent.append(" ".join(statement.split()))

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def row_reads(self) -> list[str]:
        """Statements that read track rows (a count of them reads none)."""
        return [s for s in self.sent if s.startswith("SELECT") and "FROM tracks" in s and "count(" not in s]


def test_a_rescan_of_unchanged_folders_reads_no_index_row(library, music):
    scan(library, [music])
    assert stored_digests(library) == folders_of(music)  # every folder complete and read without error

    with Statements(library) as statements:
        report = scan(library, [music])
    assert (report.added, report.updated, report.unchanged, report.moved, report.missing) == (
        0,
        0,
        n_audio(music),
        0,
        0,
    )
    assert report.errors == []
    assert statements.row_reads() == []
    index_matches_disk(library, music)


def touch_later(path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def rename_keeping_stat(path) -> None:
    path.rename(path.with_name("renamed " + path.name))


CHANGES = {
    # name: (change, (added, updated, moved, missing, errors))
    "a file touched": (
        lambda m: touch_later(m / "Metal" / next((m / "Metal").iterdir()).name),
        (0, 1, 0, 0, 0),
    ),
    "a file renamed, same size and mtime": (
        lambda m: rename_keeping_stat(m / "untagged.mp3"),
        (0, 0, 1, 0, 0),
    ),
    "a file deleted": (lambda m: (m / "untagged.wav").unlink(), (0, 0, 0, 1, 0)),
    "a file added": (
        lambda m: shutil.copy(FORMATS / "untagged.mp3", m / "Metal" / "new.mp3"),
        (1, 0, 0, 0, 0),
    ),
    "a file corrupted": (lambda m: (m / "untagged.mp3").write_bytes(b"\0" * 5000), (0, 0, 0, 0, 1)),
    "a folder deleted": (lambda m: shutil.rmtree(m / "Metal"), (0, 0, 0, 1, 0)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_folder_that_changed_since_its_digest_is_compared_file_by_file(library, music, change):
    scan(library, [music])
    make_change, expected = CHANGES[change]
    make_change(music)
    report = scan(library, [music])
    assert (report.added, report.updated, report.moved, report.missing, len(report.errors)) == expected
    if change != "a file corrupted":
        index_matches_disk(library, music)
    assert stored_digests(library) == folders_of(music)  # the changed folders' digests stored again
    # and the scan after it finds everything unchanged, reading no row but a failed file's
    with Statements(library) as statements:
        again = scan(library, [music])
    assert (again.added, again.updated, again.moved, again.missing) == (0, 0, 0, 0)
    assert len(again.errors) == expected[4]
    if change == "a file corrupted":
        # The failing file's folder keeps its digest with the file's key: that row alone is read, the file
        # read again, and, failing as its row says, reported with nothing written.
        with library.session() as session:
            failed = session.scalar(
                select(FolderDigest.failed).where(FolderDigest.folder_key == os.fsencode(music))
            )
        assert bytes(failed) == os.fsencode(music / "untagged.mp3")
        reads = statements.row_reads()
        assert len(reads) == 1 and "tracks.path_key IN" in reads[0]
        assert not any(s.startswith(("UPDATE", "INSERT", "DELETE")) for s in statements.sent)
    else:
        assert statements.row_reads() == []


def test_a_rescan_after_the_digests_are_dropped_reads_every_row_once_and_stores_them_again(library, music):
    scan(library, [music])
    with library.session() as session, session.begin():
        session.execute(FolderDigest.__table__.delete())
    with Statements(library) as statements:
        report = scan(library, [music])
    assert report.unchanged == n_audio(music)
    # _load_index: the scanned path as a file, and the range under it; no folder read alone.
    reads = statements.row_reads()
    assert len(reads) == 2 and not any("tracks.folder = " in s for s in reads)
    assert stored_digests(library) == folders_of(music)


def test_every_change_to_a_folders_rows_drops_its_digest_and_only_its(library, music):
    """The triggers, whoever writes: the tag writer's size and mtime, a read error, a missing file, a row
    added or deleted; a change no digest depends on (a title, the label bits) keeps it."""
    scan(library, [music])
    metal = os.fsencode(music / "Metal")
    everything = folders_of(music)

    def change(**values) -> dict[bytes, int]:
        with library.session() as session, session.begin():
            track_id = session.scalar(select(Track.id).where(Track.folder == str(music / "Metal")))
            session.execute(update(Track).where(Track.id == track_id).values(**values))
        left = stored_digests(library)
        scan(library, [music])  # the digests back, for the next change
        return left

    assert change(title="Another title") == everything
    assert change(label_bits=8) == everything
    for values in (
        {"size": 1},
        {"mtime_ns": 1},
        {"error": "unreadable"},
        {"missing_since": scanner.utc_now()},
    ):
        assert change(**values) == {k: n for k, n in everything.items() if k != metal}, values

    with library.session() as session, session.begin():
        session.delete(session.scalars(select(Track).where(Track.folder == str(music / "Metal"))).first())
    assert metal not in stored_digests(library)
    scan(library, [music])
    assert stored_digests(library) == everything


def test_a_digest_match_is_not_taken_for_a_file_named_alone(library, music):
    """A file named directly is not its whole folder: compared by its row, found unchanged."""
    scan(library, [music])
    report = scan(library, [music / "untagged.mp3"])
    assert (report.unchanged, report.missing, report.errors) == (1, 0, [])
    assert stored_digests(library) == folders_of(music)


def test_a_failed_file_that_fails_otherwise_keeps_its_folders_digest(library, music, monkeypatch):
    broken = music / "untagged.mp3"
    broken.write_bytes(b"\0" * 5000)
    scan(library, [music])
    read_facts = scanner._read_facts

    def fails_otherwise(path):
        if path == str(broken):
            raise scanner._Unreadable("another cause")
        return read_facts(path)

    monkeypatch.setattr(scanner, "_read_facts", fails_otherwise)
    report = scan(library, [music])
    assert report.errors == [(str(broken), "another cause")]
    with library.session() as session:
        assert session.scalar(select(Track.error).where(Track.path == str(broken))) == "another cause"
    # the row's new error dropped the folder's digest; the scan stored it again
    assert stored_digests(library) == folders_of(music)
