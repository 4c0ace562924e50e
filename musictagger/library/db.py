"""Opening the library index: a SQLite file under the user's data folder by default, any SQLAlchemy URL
otherwise (a shared PostgreSQL index needs no code change), upgraded in place by versioned migrations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from musictagger.errors import MusictaggerError
from musictagger.library.schema import Base, Meta
from musictagger.paths import data_dir

DEFAULT_DB_NAME = "library.sqlite"


class LibraryError(MusictaggerError):
    """The index cannot be opened, is from a newer musictagger, or a query on it failed."""


# Each migration upgrades an index from version N-1 to N, inside one transaction. A brand-new index is
# created from the current models and stamped with the latest version, so migrations only ever run on
# indexes made by earlier releases. Append, never edit: released indexes depend on every step.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
SCHEMA_VERSION = 2


def _add_track_reviews(connection: Connection) -> None:
    """2: the user's accept / edit / reject decisions per track and field (schema.TrackReview).

    The table is spelled out here, frozen, rather than taken from the model: a later change to the model
    must not change what this step created. ``tracks`` is declared only so the foreign key resolves.
    """
    metadata = MetaData()
    Table("tracks", metadata, Column("id", Integer, primary_key=True))
    reviews = Table(
        "track_reviews",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False),
        Column("field", String(16), nullable=False),
        Column("values", JSON),
        Column("status", String(16), nullable=False),
        Column("updated_at", DateTime, nullable=False),
        UniqueConstraint("track_id", "field"),
        Index("ix_track_reviews_track_id", "track_id"),
    )
    reviews.create(connection)


MIGRATIONS[2] = _add_track_reviews


def default_url() -> str:
    """``MUSICTAGGER_DB`` (a path or a SQLAlchemy URL), else ``library.sqlite`` in the user's data folder."""
    return os.environ.get("MUSICTAGGER_DB") or str(data_dir() / DEFAULT_DB_NAME)


def to_url(path_or_url: str | os.PathLike) -> str:
    text = os.fspath(path_or_url)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Python's sqlite3 driver commits DDL (CREATE, ALTER) at once even inside a transaction, so a
    # migration that fails half way would stay half applied. Taking transaction control from the driver
    # (autocommit) and letting SQLAlchemy emit BEGIN (``_sqlite_begin``) makes every migration atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers (the GUI) never block the writer (the scanner). FULL sync makes every commit durable
    # before the next file is touched: the write journal must never lose an entry for a file already
    # changed (undo depends on it); the scanner and analyser commit in batches, so the cost is small.
    # Foreign keys are off in SQLite unless asked for, per connection. A busy timeout rides out a second
    # process's write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class Library:
    """An open index: ``library.session()`` gives a SQLAlchemy session on it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.session: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_library(path_or_url: str | os.PathLike | None = None) -> Library:
    """Open (creating or upgrading as needed) the index at a path or SQLAlchemy URL."""
    url = to_url(path_or_url if path_or_url is not None else default_url())
    try:
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        with engine.begin() as connection:
            _migrate(connection)
    except SQLAlchemyError as exc:
        raise LibraryError(f"cannot open the library index {url}: {exc.__class__.__name__}: {exc}") from exc
    except OSError as exc:
        raise LibraryError(f"cannot open the library index {url}: {exc.strerror or exc}") from exc
    return Library(engine)


def schema_version(connection: Connection) -> int | None:
    if not inspect(connection).has_table(Meta.__tablename__):
        return None
    value = connection.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def _set_version(connection: Connection, version: int) -> None:
    connection.execute(Meta.__table__.delete().where(Meta.key == "schema_version"))
    connection.execute(Meta.__table__.insert().values(key="schema_version", value=str(version)))


def _migrate(connection: Connection) -> None:
    version = schema_version(connection)
    if version is None:
        if inspect(connection).get_table_names():
            raise LibraryError("this database has tables but is not a musictagger library")
        Base.metadata.create_all(connection)
        _set_version(connection, SCHEMA_VERSION)
        return
    if version > SCHEMA_VERSION:
        raise LibraryError(
            f"this library was written by a newer musictagger (schema {version}; this one knows "
            f"{SCHEMA_VERSION}): update musictagger to open it"
        )
    for step in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](connection)
        _set_version(connection, step)
