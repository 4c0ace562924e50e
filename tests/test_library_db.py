"""Opening the library index: created, stamped, upgraded by Alembic, refused when it is not ours or too new.

Upgrades run on real indexes made by the release before Alembic (tests/data/library) and on extra
revisions written into a copy of the migrations folder, which ``db.MIGRATIONS_DIR`` is pointed at.
"""

import io
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, delete, inspect, select, text

from musictagger.library import db
from musictagger.library.db import (
    LibraryError,
    head_revision,
    legacy_schema_version,
    open_library,
    schema_revision,
)
from musictagger.library.schema import Analysis, Base, Track
from musictagger.library.search_text import TRIGRAM_TABLE, not_trigram_table

TABLES = {
    "meta",
    "tracks",
    "analyses",
    "track_labels",
    "write_batches",
    "write_entries",
    "track_reviews",
    "alembic_version",
}
LEGACY = Path(__file__).parent / "data" / "library"


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


def raw_revision(path: Path) -> str:
    with sqlite3.connect(path) as raw:
        return raw.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def raw_engine(library_url: str):
    """A plain engine on the index (no musictagger hooks): what another program sees."""
    return create_engine(db.to_url(library_url))


def revision_in(library_url: str) -> str:
    engine = raw_engine(library_url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return found


def model_differences(connection) -> list:
    """What Alembic's autogenerate would change to make the database match the models (nothing, we hope)."""
    dialect = connection.dialect.name

    def made_here(item, _name, kind, _reflected, _compare_to) -> bool:
        # An index made on one database only (Index.ddl_if: SQLite's ix_tracks_search) is not missing on
        # the others.
        ddl_if = getattr(item, "_ddl_if", None) if kind == "index" else None
        return ddl_if is None or ddl_if.dialect is None or ddl_if.dialect == dialect

    # The search's FTS5 tables are not models: the migrations' own filter (env.py) leaves them out.
    opts = {"include_object": made_here, "include_name": not_trigram_table}
    context = MigrationContext.configure(connection, opts=opts)
    return compare_metadata(context, Base.metadata)


@pytest.fixture
def add_revision(tmp_path, monkeypatch):
    """Write extra revisions after the shipped head into a copy of the migrations folder used by db.py."""
    folder = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "MIGRATIONS_DIR", folder)
    previous = [head_revision()]

    def add(revision: str, upgrade_body: str) -> str:
        body = textwrap.indent(textwrap.dedent(upgrade_body).strip(), "    ")
        source = (
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            f"revision = {revision!r}\n"
            f"down_revision = {previous[-1]!r}\n"
            "branch_labels = None\n"
            "depends_on = None\n\n\n"
            f"def upgrade():\n{body}\n"
        )
        (folder / "versions" / f"{revision}.py").write_text(source)
        previous.append(revision)
        return revision

    return add


# A brand-new index.


def test_a_new_index_has_every_table_and_is_stamped_with_the_head_revision(library_url):
    with open_library(library_url) as library, library.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
        assert schema_revision(connection) == head_revision()
        # Releases before Alembic read this row: anything above 2 makes them refuse the index as newer.
        assert legacy_schema_version(connection) == db.ALEMBIC_SCHEMA_MARK > max(db.LEGACY_REVISIONS)
        assert model_differences(connection) == []


def test_a_new_sqlite_index_gets_its_folder(tmp_path):
    open_library(tmp_path / "sub" / "library.sqlite").close()
    assert (tmp_path / "sub" / "library.sqlite").is_file()


def test_the_migrations_replayed_on_an_empty_database_end_where_the_models_are(library_url):
    """Every revision from nothing to head gives the schema create_all gives: no model change lacks a step."""
    engine = raw_engine(library_url)
    with engine.begin() as connection:
        command.upgrade(db.alembic_config(connection), "head")
    with engine.connect() as connection:
        assert schema_revision(connection) == head_revision()
        assert model_differences(connection) == []
    engine.dispose()


def test_the_migrations_render_for_postgresql():
    config = db.alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE tracks" in sql and "BYTEA" in sql
    assert "CREATE TABLE track_reviews" in sql
    assert sql.rstrip().endswith("COMMIT;")  # one transaction (PostgreSQL DDL is transactional)


def test_reopening_keeps_the_data(library_url):
    with open_library(library_url) as library:
        add_track_with_analysis(library)
    with open_library(library_url) as library, library.session() as session:
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


# Refused.


def test_an_index_from_a_newer_musictagger_is_refused(library_url):
    open_library(library_url).close()
    engine = raw_engine(library_url)
    with engine.begin() as raw:
        raw.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    with pytest.raises(
        LibraryError, match=r"newer musictagger \(schema 0099_from_the_future.*update musictagger"
    ):
        open_library(library_url)
    assert revision_in(library_url) == "0099_from_the_future"  # and it is left alone


def test_a_pre_alembic_index_with_an_unknown_schema_version_is_refused(tmp_path):
    path = tmp_path / "library.sqlite"
    shutil.copyfile(LEGACY / "library_v2.sqlite", path)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(LibraryError, match=r"newer musictagger \(schema 7.*update musictagger"):
        open_library(path)
    with sqlite3.connect(path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "alembic_version" not in tables


def test_a_database_that_is_not_a_musictagger_library_is_refused(library_url):
    engine = raw_engine(library_url)
    with engine.begin() as raw:
        raw.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(LibraryError, match="not a musictagger library"):
        open_library(library_url)
    with engine.connect() as raw:  # and it is left alone
        assert set(inspect(raw).get_table_names()) == {"invoices"}
    engine.dispose()


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


# Upgrades.


def test_an_older_index_is_upgraded_in_place_once(tmp_path, add_revision, library_url):
    path = library_url
    with open_library(path) as library:
        add_track_with_analysis(library)
    old = revision_in(path)
    ran = tmp_path / "ran.txt"
    add_revision(
        "0003_rating",
        f"""
        op.add_column("tracks", sa.Column("rating", sa.Integer()))
        with open({str(ran)!r}, "a") as log:
            log.write(op.get_context().get_current_revision() + "\\n")
        """,
    )
    with open_library(path) as library, library.engine.connect() as connection:
        assert schema_revision(connection) == head_revision() == "0003_rating"
        assert "rating" in {c["name"] for c in inspect(connection).get_columns("tracks")}
        assert connection.execute(text("SELECT path FROM tracks")).scalar() == "/music/a.mp3"
    assert ran.read_text().split() == [old]  # ran once, on the old revision
    with open_library(path):  # already current: nothing runs again
        pass
    assert ran.read_text().split() == [old]


def test_a_failing_migration_leaves_the_index_at_its_old_revision(add_revision, library_url):
    path = library_url
    open_library(path).close()
    old = revision_in(path)
    # The first step succeeds, the second fails half way: all of it is undone, DDL included (SQLite's
    # driver would commit the ALTERs on its own; db.py takes transaction control from it).
    add_revision("0003_rating", 'op.add_column("tracks", sa.Column("rating", sa.Integer()))')
    add_revision(
        "0004_broken",
        """
        op.add_column("tracks", sa.Column("loudness", sa.Float()))
        op.create_table("moods", sa.Column("id", sa.Integer(), primary_key=True))
        op.execute("SELECT * FROM no_such_table")
        """,
    )
    with pytest.raises(LibraryError, match=r"cannot open the library index .*no_such_table"):
        open_library(path)
    assert revision_in(path) == old
    engine = raw_engine(path)
    with engine.connect() as raw:
        assert not {"rating", "loudness"} & {c["name"] for c in inspect(raw).get_columns("tracks")}
        assert not inspect(raw).has_table("moods")
    engine.dispose()


def test_a_migration_that_rebuilds_a_table_keeps_the_rows_that_reference_it(tmp_path, add_revision):
    """SQLite's batch mode copies, drops and renames ``tracks``: ON DELETE CASCADE must not fire."""
    path = tmp_path / "library.sqlite"
    with open_library(path) as library:
        add_track_with_analysis(library)
    add_revision(
        "0003_rebuild_tracks",
        """
        with op.batch_alter_table("tracks", recreate="always") as batch:
            batch.alter_column("codec", type_=sa.String(64))
        """,
    )
    with open_library(path) as library, library.engine.connect() as connection:
        assert schema_revision(connection) == "0003_rebuild_tracks"
        assert connection.execute(text("SELECT count(*) FROM analyses")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again after the upgrade


def test_a_migration_that_would_break_references_is_rolled_back(tmp_path, add_revision):
    path = tmp_path / "library.sqlite"
    with open_library(path) as library:
        add_track_with_analysis(library)
    old = raw_revision(path)
    add_revision("0003_orphans", 'op.execute("DELETE FROM tracks")')  # foreign keys are off while migrating
    with pytest.raises(LibraryError, match=r"would break 1 reference.* analyses"):
        open_library(path)
    assert raw_revision(path) == old
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1


# Indexes made by the release before Alembic (tests/data/library/README.md).


def table_rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as raw:
        names = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            name: sorted(raw.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
            if name not in {"meta", "alembic_version"}
        }


@pytest.mark.parametrize("version", [1, 2])
def test_an_index_made_before_alembic_is_upgraded_in_place_keeping_every_row(tmp_path, version):
    fixture = LEGACY / f"library_v{version}.sqlite"
    path = tmp_path / "library.sqlite"
    shutil.copyfile(fixture, path)
    before = table_rows(fixture)
    assert before["tracks"] and before["analyses"] and before["track_labels"] and before["write_entries"]
    assert ("track_reviews" in before) == (version == 2)

    with open_library(path) as library:
        with library.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
            assert legacy_schema_version(connection) == db.ALEMBIC_SCHEMA_MARK
            assert model_differences(connection) == []
        with library.session() as session:
            tracks = {track.path_key: track for track in session.scalars(select(Track))}
            assert tracks[b"/music/Jazz/caf\xe9.flac"].title == "Café"
            assert [a.model for a in tracks[b"/music/Rock/01 song.mp3"].analyses] == [
                "msd_musicnn",
                "mtt_musicnn",
            ]
    after = table_rows(path)
    if version == 1:
        assert after.pop("track_reviews") == []
    # Migration 0003 appends energy and valence, empty until the next analysis run relabels the tracks;
    # 0004 tempo and key (8 columns), empty until the next analysis run estimates them.
    tracks = after.pop("tracks")
    # 0008: the folded search text, filled after the upgrade (its path folded among the rest).
    assert all(row[2].lower() in row[-2] for row in tracks)
    # 0010: the trigram index of that text (an FTS5 table and its shadow tables), filled with it.
    trigrams = {name: after.pop(name) for name in list(after) if name.startswith(TRIGRAM_TABLE)}
    assert trigrams.pop(TRIGRAM_TABLE) == sorted(((row[-2],) for row in tracks), key=repr)
    assert trigrams  # FTS5's own tables
    # 0014: the label bits, none yet (no confident label until the next relabelling); 0015: no folder
    # digest until the next rescan.
    assert {row[-1] for row in tracks} == {0}
    assert after.pop("label_bits") == [] and after.pop("folder_digests") == []
    assert sorted((row[:-2] for row in tracks), key=repr) == sorted(
        ((*row, None, None, *[None] * 8) for row in before.pop("tracks")), key=repr
    )
    assert after.pop("track_labels") == sorted(((*row, 0) for row in before.pop("track_labels")), key=repr)
    # 0005: every analysis made before library mode is a full one (sampled 0, no patch_starts).
    assert after.pop("analyses") == sorted(((*row, 0, None) for row in before.pop("analyses")), key=repr)
    # 0007: facet counts of confident labels; 0003's labels are not confident until the next relabelling.
    assert after.pop("label_facets") == []
    assert after == before
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open_library(path) as library, library.engine.connect() as connection:  # and reopens as is
        assert schema_revision(connection) == head_revision()
