"""Opening the library index: a SQLite file under the user's data folder by default, any SQLAlchemy URL
otherwise (a shared PostgreSQL index needs no code change), upgraded in place by Alembic migrations.

The migrations live in ``musictagger/library/migrations/`` (``versions/``, one file per revision) and run
programmatically from here: no ``alembic.ini``. A brand-new index is created from the current models and
stamped with the head revision, so migrations only ever run on indexes made by earlier releases. Releases
before Alembic kept a number in ``meta.schema_version``; such an index is stamped with the revision of
that schema (``LEGACY_REVISIONS``) and upgraded from there.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, select
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from musictagger.errors import MusictaggerError
from musictagger.library import facet_counts, folder_digests, label_bits, search_text
from musictagger.library.folding import register_fold
from musictagger.library.schema import Base, Meta
from musictagger.paths import data_dir

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported where an index is opened or migrated, not with this module: importing it takes
# 0.3 s, which every command paid at start-up (`tag` without --write never opens an index).

DEFAULT_DB_NAME = "library.sqlite"
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# meta.schema_version of the releases before Alembic → the revision holding that schema.
LEGACY_REVISIONS = {1: "0001_initial_schema", 2: "0002_track_reviews"}
# Written to meta.schema_version of every index Alembic manages (never changes again): a release before
# Alembic then refuses the index as "written by a newer musictagger" rather than misreading it.
ALEMBIC_SCHEMA_MARK = 3

log = logging.getLogger(__name__)
T = TypeVar("T")

# Several writers at once (two scans, the app and a scan, machines sharing a PostgreSQL index): a transaction
# that lost a race (a unique key another writer inserted first, a deadlock, a serialization failure, SQLite's
# lock held or its snapshot outdated) is rolled back and run again from fresh reads, this many times in all.
TRANSIENT_ATTEMPTS = 8
# PostgreSQL's SQLSTATEs of a lost race: serialization_failure, deadlock_detected, unique_violation.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "23505"}
# SQLite's: SQLITE_BUSY and SQLITE_LOCKED (any extended code), a UNIQUE or PRIMARY KEY constraint.
_SQLITE_BUSY_CODES = {5, 6}
_SQLITE_UNIQUE_CODES = {1555, 2067}


class LibraryError(MusictaggerError):
    """The index cannot be opened, is from a newer musictagger, or a query on it failed."""


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is a lost race with another writer, which running the transaction again
    (from fresh reads) resolves; not a bad query or a lost server."""
    if not isinstance(exc, DBAPIError) or exc.connection_invalidated:
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None) or 0
        return code & 0xFF in _SQLITE_BUSY_CODES or code in _SQLITE_UNIQUE_CODES
    return False


def pause_before_retry(attempt: int) -> None:
    """A short, growing, jittered wait, so two writers that collided do not collide again in step."""
    time.sleep(random.uniform(0.5, 1.0) * min(0.02 * 2**attempt, 1.0))


def with_retries(library: Library, work: Callable[[Session], T]) -> T:
    """``work(session)`` in a fresh session (it commits), run again after a transient failure
    (``is_transient``); any other error, or the last attempt's, propagates."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        with library.session() as session:
            try:
                return work(session)
            except DBAPIError as exc:
                session.rollback()
                if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                    raise
                log.info("library index: lost a race with another writer (%s); again", one_line(exc))
        pause_before_retry(attempt)
    raise AssertionError("unreachable")


def one_line(exc: BaseException) -> str:
    """A database error as one line: the driver's own message (SQLAlchemy's wrapper, its SQL and its link
    left out), its lines joined."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).split("\n(Background on this error", 1)[0]
    text = text.split("\n[SQL:", 1)[0]
    return " ".join(text.split()) or type(cause).__name__


def _hidden_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _lost_server(context: ExceptionContext) -> None:
    # The server went away (stopped, crashed, network gone) while the index was open: one line the CLI and
    # the app show as is, instead of a driver traceback. What the interrupted transaction wrote is rolled
    # back by the server; what was committed stays, so the next run resumes.
    if context.is_disconnect or (
        context.connection is None and isinstance(context.sqlalchemy_exception, DBAPIError)
    ):
        engine = context.engine
        where = engine.url.render_as_string(hide_password=True) if engine is not None else "the library index"
        raise LibraryError(
            f"lost the connection to the library index {where}: {one_line(context.original_exception)}"
        ) from context.original_exception


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
    # The search fold: the triggers that keep tracks.search_text call it on every insert and rename
    # (library/search_text.py), so every connection of the index needs it, whatever was imported.
    register_fold(dbapi_connection)


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
    shown = _hidden_password(url)
    try:
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        try:
            _create_or_upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        event.listen(engine, "handle_error", _lost_server)  # opened: from now on a lost server is one line
    except (SQLAlchemyError, _alembic_command_error()) as exc:
        raise LibraryError(
            f"cannot open the library index {shown}: {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    except ImportError as exc:  # a URL naming a driver that is not installed (mysql+pymysql://...)
        raise LibraryError(
            f"cannot open the library index {shown}: its driver is not installed ({exc})"
        ) from exc
    except OSError as exc:
        raise LibraryError(f"cannot open the library index {shown}: {exc.strerror or exc}") from exc
    return Library(engine)


def _create_or_upgrade(engine: Engine) -> None:
    # One transaction for the whole upgrade: a failing step leaves the index at its old revision.
    with engine.connect() as connection, _sqlite_foreign_keys_deferred(connection), connection.begin():
        _migrate(connection)
        if not search_text.ensure_trigram_index(connection):
            raise LibraryError(
                "this library's search index is kept with SQLite's FTS5 (trigram), which this Python's "
                f"SQLite {sqlite3.sqlite_version} lacks: open it with a Python whose SQLite has FTS5"
            )


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the index's migrations, without an ini file.

    With ``connection``, ``command.upgrade(config, ...)`` and friends run on it, inside its transaction
    (``migrations/env.py``); without, only ``sql=True`` (offline) commands work, given a
    ``sqlalchemy.url`` option.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s")  # versions/0003_tracks_rating.py
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision a brand-new index is stamped with: the newest migration this release knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_revision(connection: Connection) -> str | None:
    """The index's Alembic revision; None for an empty database or one made before Alembic."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def legacy_schema_version(connection: Connection) -> int | None:
    """``meta.schema_version``: the version of releases before Alembic (``ALEMBIC_SCHEMA_MARK`` after)."""
    if not inspect(connection).has_table(Meta.__tablename__):
        return None
    value = connection.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise LibraryError(f"this library's schema version {value!r} is not a number") from None


def _mark_alembic_managed(connection: Connection) -> None:
    connection.execute(Meta.__table__.delete().where(Meta.key == "schema_version"))
    connection.execute(Meta.__table__.insert().values(key="schema_version", value=str(ALEMBIC_SCHEMA_MARK)))


def _newer(found: str, known: str) -> LibraryError:
    return LibraryError(
        f"this library was written by a newer musictagger (schema {found}; this one knows "
        f"{known}): update musictagger to open it"
    )


def _create_triggers(connection: Connection) -> None:
    """A brand-new index gets the triggers that keep ``label_facets``, ``label_bits``, ``folder_digests``,
    ``tracks.search_text`` and its trigram index (an upgraded one gets them after its upgrade, below)."""
    facet_counts.create_triggers(connection)
    label_bits.create_triggers(connection)
    folder_digests.create_triggers(connection)
    search_text.create_trigram_index(connection)  # SQLite: the search's trigram index (FTS5, no ORM table)
    search_text.create_postgresql_trigram_index(connection)  # PostgreSQL: its GIN expression index
    search_text.create_triggers(connection)


def _alembic_command_error() -> type[Exception]:
    from alembic.util import CommandError

    return CommandError


def _migrate(connection: Connection) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(connection)
    scripts = ScriptDirectory.from_config(config)
    heads = set(scripts.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if not current:
        legacy = legacy_schema_version(connection)
        if legacy is None:
            if inspect(connection).get_table_names():
                raise LibraryError("this database has tables but is not a musictagger library")
            Base.metadata.create_all(connection)
            _create_triggers(connection)
            command.stamp(config, "heads")
            _mark_alembic_managed(connection)
            return
        if legacy not in LEGACY_REVISIONS:
            raise _newer(str(legacy), ", ".join(sorted(heads)))
        log.info("library index: schema_version %d is revision %s", legacy, LEGACY_REVISIONS[legacy])
        command.stamp(config, LEGACY_REVISIONS[legacy])
        _mark_alembic_managed(connection)
        current = {LEGACY_REVISIONS[legacy]}
    known = {script.revision for script in scripts.walk_revisions()}
    if unknown := sorted(current - known):
        raise _newer(", ".join(unknown), ", ".join(sorted(heads)))
    if current != heads:
        log.info("upgrading the library index from %s to %s", sorted(current), sorted(heads))
        # The triggers name tables a step may rebuild: dropped for the steps, then made again, with fresh
        # facet counts, the folded text of rows without, the label bits, and no folder digest
        # (library/facet_counts.py, search_text.py, label_bits.py, folder_digests.py).
        facet_counts.drop_triggers(connection)
        search_text.drop_triggers(connection)
        label_bits.drop_triggers(connection)
        folder_digests.drop_triggers(connection)
        command.upgrade(config, "heads")
        facet_counts.recount(connection)
        search_text.refresh(connection)
        label_bits.refresh(connection)
        folder_digests.refresh(connection)
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys off while migrating, on again after (the check runs before the commit).

    A migration that rebuilds a table (Alembic's batch mode: copy, DROP, RENAME) would otherwise cascade
    the DROP into every table that references it (``ON DELETE CASCADE`` wipes the analyses of a rebuilt
    ``tracks``). The pragma is a no-op inside a transaction, so it goes to the driver's connection, which
    is in autocommit mode (``_sqlite_connect``), before SQLAlchemy begins one.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise LibraryError(
            f"upgrading the library index would break {len(broken)} reference(s) in {', '.join(tables)}; "
            "it is left as it was"
        )
