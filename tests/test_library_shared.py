"""A shared index: several writers at once, a wrong URL, a server that goes away (on SQLite and PostgreSQL).

Two real ``scan`` processes on overlapping folders must leave one row per file and every analysis stored
once; a wrong URL is one line from the CLI; a PostgreSQL server stopped mid-scan loses only the batch in
flight, and the next scan resumes.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA
from pg import PostgresServer
from sqlalchemy import func, select

from musictagger.library import LibraryError, open_library
from musictagger.library import scanner as scanner_module
from musictagger.library.scanner import scan
from musictagger.library.schema import Analysis, Track

ROOT = Path(__file__).resolve().parent.parent
FORMATS = DATA / "formats"


def make_music(root: Path, copies: int) -> Path:
    """Two folders of the tagged fixtures (``copies`` times each, under other names)."""
    music = root / "Music"
    for folder in ("A", "B"):
        (music / folder).mkdir(parents=True)
        for n in range(copies):
            for source in sorted(FORMATS.glob("tagged*")):
                shutil.copy(source, music / folder / f"{n}-{source.name}")
    return music


def audio_files(music: Path) -> list[Path]:
    return sorted(p for p in music.rglob("*") if p.is_file())


def rows_per_path(library) -> dict[bytes, int]:
    with library.session() as session:
        query = select(Track.path_key, func.count()).group_by(Track.path_key)
        return {bytes(key): n for key, n in session.execute(query)}


def test_a_scan_that_loses_the_race_for_its_files_stores_them_over_the_winners_rows(
    library, library_url, tmp_path, monkeypatch
):
    """Deterministic: a second scan inserts every file while the first holds its uncommitted batch."""
    music = make_music(tmp_path, copies=1)
    monkeypatch.setattr(scanner_module, "BATCH_SECONDS", 1e9)
    interloper_ran = []

    def the_other_scan_meanwhile(report, path):
        if not interloper_ran:
            interloper_ran.append(True)
            with open_library(library_url) as other:
                assert scan(other, [music]).added == len(audio_files(music))

    report = scan(library, [music], on_progress=the_other_scan_meanwhile)
    assert report.added == len(audio_files(music)) and not report.errors
    counts = rows_per_path(library)
    assert len(counts) == len(audio_files(music)) and set(counts.values()) == {1}


def test_two_scan_processes_on_overlapping_folders_store_each_file_and_analysis_once(
    library, library_url, tmp_path
):
    music = make_music(tmp_path, copies=1)
    env = {**os.environ, "MUSICTAGGER_DB": library_url}

    def start(*paths):
        command = [sys.executable, str(ROOT / "main.py"), "scan", *map(str, paths), "--quiet"]
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    first = start(music / "A", music)
    second = start(music / "B", music)
    outcomes = [process.communicate(timeout=600) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outcomes
    files = audio_files(music)
    counts = rows_per_path(library)
    assert len(counts) == len(files) and set(counts.values()) == {1}
    with library.session() as session:
        models = session.scalars(select(Analysis.model).distinct()).all()
        per_track = session.execute(select(Analysis.track_id, func.count()).group_by(Analysis.track_id)).all()
        assert models and {n for _, n in per_track} == {len(models)}  # every track, every model, once
        assert len(per_track) == len(files)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://dj:secret@127.0.0.1:1/library", "Connection refused"),
        ("postgresql+nosuchdriver://dj@localhost/library", "Can't load plugin"),
        ("mysql+nosuchmodule://dj@localhost/library", "Can't load plugin"),
        ("postgres ql://what", "Could not parse"),
    ],
)
def test_a_wrong_url_is_one_line_from_the_command_line(url, says, tmp_path):
    (tmp_path / "Music").mkdir()
    command = [
        sys.executable,
        str(ROOT / "main.py"),
        "scan",
        str(tmp_path / "Music"),
        "--no-analyse",
        "--db",
        url,
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musictagger: cannot open the library index"), done.stderr
    assert says in lines[0] and "secret" not in lines[0]


def test_wrong_credentials_and_database_are_named(postgres_server):
    with pytest.raises(LibraryError, match='role "nobody" does not exist'):
        open_library(postgres_server.url("postgres").replace("postgres@", "nobody@"))
    with pytest.raises(LibraryError, match='database "no_such_library" does not exist'):
        open_library(postgres_server.url("no_such_library"))


@pytest.fixture
def private_server():
    """A server of this test's own, which it may stop."""
    server = PostgresServer()
    yield server
    server.close()


def test_a_server_that_goes_away_mid_scan_loses_only_the_batch_in_flight(
    private_server, tmp_path, monkeypatch
):
    music = make_music(tmp_path, copies=1)
    files = audio_files(music)
    monkeypatch.setattr(scanner_module, "BATCH_FILES", 4)
    monkeypatch.setattr(scanner_module, "BATCH_SECONDS", 1e9)
    url = private_server.url()
    seen = []

    def stop_the_server_on_the_tenth(report, path):
        seen.append(path)
        if len(seen) == 10:
            private_server.stop_abruptly()

    with (
        open_library(url) as library,
        pytest.raises(LibraryError, match="lost the connection to the library index"),
    ):
        scan(library, [music], on_progress=stop_the_server_on_the_tenth)
    private_server.restart()
    with open_library(url) as library:
        with library.session() as session:
            stored = session.scalars(select(Track)).all()
            assert len(stored) == 8  # two whole batches; the third rolled back by the server
            assert all(t.fingerprint and t.container and t.file_tags is not None for t in stored)
        report = scan(library, [music])  # resumes
        assert (report.unchanged, report.added) == (8, len(files) - 8)
        assert set(rows_per_path(library).values()) == {1}
