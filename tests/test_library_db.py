"""Opening the library index: created, stamped, upgraded, refused when it is not ours or too new."""

import sqlite3

import pytest
from sqlalchemy import delete, inspect, select, text

from musictagger.library import db
from musictagger.library.db import LibraryError, open_library, schema_version
from musictagger.library.schema import Analysis, Meta, Track

TABLES = {"meta", "tracks", "analyses", "track_labels", "write_batches", "write_entries"}


def add_track_with_analysis(library) -> int:
    from musictagger.library.scanner import utc_now

    with library.session() as session, session.begin():
        track = Track(
            path_key=b"/music/a.mp3",
            path="/music/a.mp3",
            folder="/music",
            size=1,
            mtime_ns=1,
            scanned_at=utc_now(),
        )
        track.analyses.append(
            Analysis(
                model="m",
                model_version="1",
                scores={},
                patch_seconds=3.0,
                taggram=b"",
                n_patches=0,
                embedding=b"",
                created_at=utc_now(),
            )
        )
        session.add(track)
        session.flush()
        return track.id


def test_a_new_index_has_every_table_and_the_latest_schema_version(tmp_path):
    with open_library(tmp_path / "sub" / "library.sqlite") as library, library.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
        assert schema_version(connection) == db.SCHEMA_VERSION
    assert (tmp_path / "sub" / "library.sqlite").is_file()


def test_reopening_keeps_the_data(tmp_path):
    path = tmp_path / "library.sqlite"
    with open_library(path) as library:
        add_track_with_analysis(library)
    with open_library(path) as library, library.session() as session:
        assert session.scalars(select(Track.path)).all() == ["/music/a.mp3"]


def test_the_file_is_wal_with_foreign_keys_enforced(tmp_path):
    path = tmp_path / "library.sqlite"
    with open_library(path) as library:
        track_id = add_track_with_analysis(library)
        with library.engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # Foreign keys really act: deleting a track in SQL removes its analyses (ON DELETE CASCADE).
        with library.session() as session, session.begin():
            session.execute(delete(Track).where(Track.id == track_id))
        with library.session() as session:
            assert session.scalars(select(Analysis)).all() == []
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_index_from_a_newer_musictagger_is_refused(tmp_path):
    path = tmp_path / "library.sqlite"
    with open_library(path) as library, library.session() as session, session.begin():
        session.get(Meta, "schema_version").value = str(db.SCHEMA_VERSION + 1)
    with pytest.raises(LibraryError, match=r"newer musictagger .*update musictagger"):
        open_library(path)


def test_a_database_that_is_not_a_musictagger_library_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(LibraryError, match="not a musictagger library"):
        open_library(path)
    with sqlite3.connect(path) as raw:  # and it is left alone
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"invoices"}


def test_a_path_that_cannot_be_a_database_gives_a_library_error(tmp_path):
    (tmp_path / "not a db").write_text("hello, this is not SQLite at all " * 100)
    with pytest.raises(LibraryError, match="cannot open the library index"):
        open_library(tmp_path / "not a db")


def test_a_sqlalchemy_url_opens_the_same_file(tmp_path):
    path = tmp_path / "by-url.sqlite"
    with open_library(f"sqlite:///{path}") as library:
        assert library.url == f"sqlite:///{path}"
        add_track_with_analysis(library)
    with open_library(path) as library, library.session() as session:
        assert session.scalar(select(Track.path)) == "/music/a.mp3"


def test_an_older_index_is_upgraded_step_by_step_in_place(tmp_path, monkeypatch):
    path = tmp_path / "library.sqlite"
    with open_library(path) as library:
        add_track_with_analysis(library)
    ran = []

    def add_rating(connection):
        ran.append(schema_version(connection))
        connection.execute(text("ALTER TABLE tracks ADD COLUMN rating INTEGER"))

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION, add_rating)
    with open_library(path) as library, library.engine.connect() as connection:
        assert schema_version(connection) == db.SCHEMA_VERSION
        assert "rating" in {c["name"] for c in inspect(connection).get_columns("tracks")}
        assert connection.execute(text("SELECT path FROM tracks")).scalar() == "/music/a.mp3"
    assert ran == [db.SCHEMA_VERSION - 1]  # ran once, on the old version
    with open_library(path):  # already current: nothing runs again
        pass
    assert len(ran) == 1


def test_a_failing_migration_leaves_the_index_at_its_old_version(tmp_path, monkeypatch):
    path = tmp_path / "library.sqlite"
    open_library(path).close()
    old = db.SCHEMA_VERSION

    def broken(connection):
        connection.execute(text("ALTER TABLE tracks ADD COLUMN rating INTEGER"))
        connection.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(db, "SCHEMA_VERSION", old + 1)
    monkeypatch.setitem(db.MIGRATIONS, old + 1, broken)
    with pytest.raises(LibraryError):
        open_library(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(old)
        assert "rating" not in {row[1] for row in raw.execute("PRAGMA table_info(tracks)")}
