"""Tempo and key in the index: migration 0004 keeps an older index's rows, and tracks analysed before tempo
and key existed gain them on the next run from a decode alone, without the taggers running again."""

import shutil
import sqlite3

import pytest
from conftest import DATA
from sqlalchemy import create_engine, inspect, select

from musictagger.analysis import Analyzer
from musictagger.library import Analysis, Track, open_library
from musictagger.library.db import alembic_config, head_revision, schema_revision
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending, tempo_key_needed
from musictagger.tempo_key import TempoKeyStage

PREVIOUS = "0003_track_energy_valence"
NEW_COLUMNS = {
    "bpm",
    "bpm_confidence",
    "bpm_reason",
    "key",
    "key_confidence",
    "key_reason",
    "tempo_key_basis",
    "tempo_key_fingerprint",
}


def _index_at_previous_revision(path):
    """An index as the release before tempo and key left it: made now, then downgraded to 0003."""
    from alembic import command

    open_library(path).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), PREVIOUS)
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO tracks (path_key, path, folder, size, mtime_ns, fingerprint, file_tags, scanned_at,"
            " energy) VALUES (?, '/music/a.flac', '/music', 10, 20, 'f1', '{}', '2026-12-01 10:00:00', 6.5)",
            (b"/music/a.flac",),
        )


def test_an_index_at_the_previous_revision_upgrades_keeping_its_rows(tmp_path):
    path = tmp_path / "library.sqlite"
    _index_at_previous_revision(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone()[0] == PREVIOUS
        assert not NEW_COLUMNS & {row[1] for row in raw.execute("PRAGMA table_info(tracks)")}
    with open_library(path) as library:
        with library.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
            inspector = inspect(connection)
            assert {c["name"] for c in inspector.get_columns("tracks")} >= NEW_COLUMNS
            indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("tracks")}
            assert indexes["ix_tracks_bpm"] == ["bpm"] and indexes["ix_tracks_key"] == ["key"]
        with library.session() as session:
            (track,) = session.scalars(select(Track))
            assert (track.path, track.energy, track.fingerprint) == ("/music/a.flac", 6.5, "f1")
            assert track.bpm is None and track.key is None and track.tempo_key_basis is None
            assert [t.id for t in tempo_key_needed(session, TempoKeyStage().basis)] == [track.id]


@pytest.fixture(scope="module")
def analyzer_with_stage():
    return Analyzer(device="cpu", tempo_key=TempoKeyStage())


def test_analysed_tracks_gain_tempo_and_key_from_a_decode_alone(tmp_path, analyzer_with_stage, vocabulary):
    folder = tmp_path / "Music"
    folder.mkdir()
    shutil.copy(DATA / "audio" / "tagged.ogg", folder / "vibe ace.ogg")  # 20 s, a steady 130 BPM
    shutil.copy(DATA / "formats" / "untagged.wav", folder / "short.wav")  # 2 s
    stage = analyzer_with_stage.tempo_key
    with open_library(tmp_path / "library.sqlite") as library:
        scan(library, [folder])
        # A run of the release before: the taggers, no tempo/key stage.
        analyzer_with_stage.tempo_key = None
        try:
            before = analyse_pending(library, analyzer_with_stage, vocabulary)
        finally:
            analyzer_with_stage.tempo_key = stage
        assert before.analysed == 2 and before.tempo_key_pending == 0
        with library.session() as session:
            stamps = {(a.track_id, a.model): a.created_at for a in session.scalars(select(Analysis))}
            assert all(t.bpm is None and t.tempo_key_basis is None for t in session.scalars(select(Track)))

        seen = []
        report = analyse_pending(
            library, analyzer_with_stage, vocabulary, on_result=lambda *a: seen.append(a)
        )
        assert report.analysed == 0  # no tagger ran
        assert (report.tempo_key_pending, report.tempo_key_only, report.errors) == (2, 2, [])
        assert [(analysis, error) for _, analysis, error in seen] == [(None, None), (None, None)]
        with library.session() as session:
            after = {(a.track_id, a.model): a.created_at for a in session.scalars(select(Analysis))}
            assert after == stamps  # the stored analyses are the same rows, untouched
            tracks = {t.path.rsplit("/", 1)[-1]: t for t in session.scalars(select(Track))}
            vibe, short = tracks["vibe ace.ogg"], tracks["short.wav"]
            assert vibe.bpm == pytest.approx(130, rel=0.04) and vibe.bpm_reason is None
            assert vibe.key == "E major" and 0 < vibe.key_confidence <= 1 and vibe.key_reason is None
            assert vibe.tempo_key_basis == stage.basis and vibe.tempo_key_fingerprint == vibe.fingerprint
            assert short.bpm is None and short.key is None
            assert short.bpm_reason.startswith("too short") and short.key_reason.startswith("too short")

        again = analyse_pending(library, analyzer_with_stage, vocabulary)
        assert (again.analysed, again.tempo_key_pending) == (0, 0)

        # Another tempo range is another basis: estimated again, still without the taggers.
        analyzer_with_stage.tempo_key = TempoKeyStage((50, 100))
        try:
            other = analyse_pending(library, analyzer_with_stage, vocabulary)
        finally:
            analyzer_with_stage.tempo_key = stage
        assert (other.analysed, other.tempo_key_only) == (0, 2)
        with library.session() as session:
            vibe = session.scalars(select(Track).where(Track.path.like("%vibe ace.ogg"))).one()
            assert vibe.bpm == pytest.approx(65, rel=0.04)  # 130 halved into 50-100
