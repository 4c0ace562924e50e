"""A real PostgreSQL server for the library tests: pgserver's wheel, no system service, no Docker.

One server per test session (started on the first test that asks for it, stopped at the end); each test
gets a database of its own (CREATE DATABASE: about 50 ms), dropped after it. ``library_url`` is
parametrised over SQLite and PostgreSQL for every test that uses it, directly or through ``library``
(tests/conftest.py), so the library suite runs on both. Tests that analyse audio (the ``analyzer``
fixture) take minutes each: they run on SQLite only, unless marked ``both_databases`` (a representative
subset) or parametrised over ``library_url`` themselves.

As root (CI, this machine) pgserver runs the server as a system user of its own (``pgserver``, created
on first use), since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest

BACKENDS = ("sqlite", "postgresql")
BOTH_DATABASES = "both_databases"


class PostgresServer:
    """A pgserver instance on a data folder of its own, reached through its Unix socket.

    The folder is not under pytest's basetemp: another pytest run on the machine prunes old basetemps,
    which would delete a running server's data, and pytest's 0700 folders keep the ``pgserver`` user out.
    close() deletes it."""

    def __init__(self):
        data_dir = Path(tempfile.mkdtemp(prefix="musictagger-pg-")) / "data"
        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR in CI, /tmp/runtime-<uid> is used
            warnings.simplefilter("ignore")
            import pgserver

        self._handle = pgserver.get_server(data_dir, cleanup_mode="delete")
        self.data_dir = Path(data_dir)
        self._names = itertools.count(1)

    @property
    def socket_dir(self) -> Path:
        return self._handle.get_postmaster_info().socket_dir

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database, the form a user gives ``--db``."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(dbname="postgres", user="postgres", host=str(self.socket_dir), autocommit=True)

    def create_database(self) -> str:
        name = f"library_{os.getpid()}_{next(self._names)}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a connection a failing test left open must not keep its database alive.
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop_abruptly(self) -> None:
        """The server goes away as a crashed or unplugged one does: immediate shutdown, no goodbye."""
        import pgserver

        user = self._handle.system_user
        pgserver.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.data_dir, user=user)

    def restart(self) -> None:
        """Start it again on the same data folder (after stop_abruptly: the server's crash recovery runs)."""
        self._handle.ensure_postgres_running()

    def close(self) -> None:
        """Stops the server (if still running) and deletes its data folder."""
        self._handle.cleanup()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{BOTH_DATABASES}: a test that analyses audio runs on PostgreSQL too (tests/pg.py)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "library_url" not in metafunc.fixturenames:
        return
    if any("library_url" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize")):
        return  # the test chose its backends itself
    analyses_audio = "analyzer" in metafunc.fixturenames
    both = not analyses_audio or metafunc.definition.get_closest_marker(BOTH_DATABASES) is not None
    wanted = BACKENDS if both else ("sqlite",)
    metafunc.parametrize("library_url", wanted, indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture
def library_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A path or URL where no index exists yet: a SQLite file, or an empty PostgreSQL database."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield str(tmp_path / "library.sqlite")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)
