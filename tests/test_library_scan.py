"""Scanning real audio files into a real SQLite index: incremental, moves, deletions, bad input."""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import DATA, FORMATS, METAL
from helpers import deny_opening, synthetic_track
from sqlalchemy import select

from musictagger.library import Analysis, Track, TrackLabel, WriteBatch, WriteEntry, scanner
from musictagger.library.scanner import _load_index, prune_missing, scan, utc_now
from musictagger.library.store import analyses_needed
from musictagger.tags import read_tags, write_tags
from musictagger.tags.audio_payload import audio_payload_digest


def n_audio(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and p.suffix != ".jpg")


def tracks(library) -> dict[str, Track]:
    with library.session() as session:
        return {t.path: t for t in session.scalars(select(Track))}


def fake_analysis(track_id: int, fingerprint: str | None) -> Analysis:
    return Analysis(
        track_id=track_id,
        model="MSD_musicnn",
        model_version="1.0",
        fingerprint=fingerprint,
        scores={"jazz": 0.9},
        patch_seconds=2.992,
        taggram=b"\0\0",
        n_patches=1,
        embedding=b"\0\0\0\0",
        created_at=utc_now(),
    )


def analyse_fakely(library, path: Path) -> int:
    """Give the track at ``path`` an analysis, a label and a journal entry; returns its id."""
    with library.session() as session, session.begin():
        track = session.scalars(select(Track).where(Track.path_key == os.fsencode(path))).one()
        session.add(fake_analysis(track.id, track.fingerprint))
        session.add(TrackLabel(track_id=track.id, category="genre", label="Jazz", score=0.9, rank=1))
        batch = WriteBatch(created_at=utc_now())
        batch.entries.append(
            WriteEntry(
                track_id=track.id,
                path_key=track.path_key,
                path=track.path,
                old={},
                new={"genre": ["Jazz"]},
                status="written",
                updated_at=utc_now(),
            )
        )
        session.add(batch)
        return track.id


def kept_history(library, track_id: int) -> tuple[int, int, int]:
    with library.session() as session:
        return (
            len(session.scalars(select(Analysis).where(Analysis.track_id == track_id)).all()),
            len(session.scalars(select(TrackLabel).where(TrackLabel.track_id == track_id)).all()),
            len(session.scalars(select(WriteEntry).where(WriteEntry.track_id == track_id)).all()),
        )


# --------------------------------------------------------------------------------------------------
# First scan and rescans
# --------------------------------------------------------------------------------------------------


def test_first_scan_adds_every_audio_file_with_what_it_holds(library, music):
    report = scan(library, [music])
    assert (report.added, report.updated, report.unchanged, report.moved, report.missing) == (
        n_audio(music),
        0,
        0,
        0,
        0,
    )
    assert report.errors == [] and not report.stopped
    rows = tracks(library)
    assert len(rows) == n_audio(music)
    flac = rows[str(music / "Kevin MacLeod" / "Jazz Sampler" / "tagged.flac")]
    st = os.stat(flac.path)
    assert flac.path_key == os.fsencode(flac.path)
    assert flac.folder == str(music / "Kevin MacLeod" / "Jazz Sampler")
    assert (flac.size, flac.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert (flac.container, flac.codec) == ("flac", "flac")
    assert flac.duration_s == pytest.approx(3.5, abs=0.05)
    assert flac.fingerprint == audio_payload_digest(flac.path)
    assert flac.file_tags["genre"] == ["Jazz"] and flac.file_tags["comment"] == ["1A - Energy 6"]
    assert (flac.artist, flac.album) == tuple(read_tags(flac.path)[f][0] for f in ("artist", "album"))
    assert flac.title
    assert flac.error is None and flac.missing_since is None and flac.scanned_at is not None
    untagged = rows[str(music / "untagged.mp3")]
    assert untagged.file_tags == {} and untagged.title is None and untagged.fingerprint
    assert {r.container for r in rows.values()} >= {"mp3", "flac", "ogg", "mp4", "asf", "wav", "aiff"}


def test_a_rescan_of_unchanged_files_opens_none_of_them(library, music, monkeypatch):
    scan(library, [music])
    before = {path: t.scanned_at for path, t in tracks(library).items()}

    def must_not_read(*args, **kwargs):
        raise AssertionError("an unchanged file was read")

    for reader in ("probe_audio", "read_tags", "container_of", "audio_payload_digest"):
        monkeypatch.setattr(scanner, reader, must_not_read)
    progress = []
    report = scan(library, [music], on_progress=lambda r, path: progress.append(path))
    assert (report.added, report.updated, report.unchanged, report.moved, report.missing) == (
        0,
        0,
        n_audio(music),
        0,
        0,
    )
    assert report.errors == []
    assert len(progress) == n_audio(music)
    assert {path: t.scanned_at for path, t in tracks(library).items()} == before


def test_a_tag_edit_updates_the_track_and_keeps_its_fingerprint_and_analyses(library, music):
    scan(library, [music])
    path = music / "Kevin MacLeod" / "Jazz Sampler" / "tagged_id3v24.mp3"
    track_id = analyse_fakely(library, path)
    fingerprint = tracks(library)[str(path)].fingerprint
    write_tags(path, {"genre": ["House", "Techno"], "mood": ["dark"]})

    report = scan(library, [music])
    assert (report.updated, report.unchanged, report.added) == (1, n_audio(music) - 1, 0)
    track = tracks(library)[str(path)]
    assert track.id == track_id
    assert track.file_tags["genre"] == ["House", "Techno"] and track.file_tags["mood"] == ["dark"]
    assert track.fingerprint == fingerprint  # only the tags changed
    assert kept_history(library, track_id) == (1, 1, 1)
    with library.session() as session:  # the analysis is still current: nothing to redo
        needed = analyses_needed(session, ["MSD_musicnn"], {"MSD_musicnn": "1.0"})
        assert track_id not in {t.id for t in needed}


def test_new_audio_under_the_same_name_makes_the_analysis_stale(library, music):
    scan(library, [music])
    path = music / "untagged.mp3"
    track_id = analyse_fakely(library, path)
    shutil.copy(DATA / "audio" / "vibe_ace.mp3", path)  # other audio
    report = scan(library, [music])
    assert report.updated == 1
    with library.session() as session:
        needed = analyses_needed(session, ["MSD_musicnn"], {"MSD_musicnn": "1.0"})
        assert track_id in {t.id for t in needed}
    assert kept_history(library, track_id) == (1, 1, 1)  # replaced when analysed again, not before


def test_a_renamed_file_is_a_move_that_keeps_analyses_labels_and_journal(library, music):
    scan(library, [music])
    old = music / "Kevin MacLeod" / "Jazz Sampler" / "tagged.flac"
    track_id = analyse_fakely(library, old)
    new = music / "Sorted" / "Jazz" / "Kevin MacLeod - Vibe Ace.flac"
    new.parent.mkdir(parents=True)
    os.rename(old, new)

    report = scan(library, [music])
    assert (report.moved, report.added, report.missing, report.unchanged) == (1, 0, 0, n_audio(music) - 1)
    rows = tracks(library)
    assert str(old) not in rows
    moved = rows[str(new)]
    assert moved.id == track_id and moved.path_key == os.fsencode(new)
    assert moved.folder == str(new.parent)
    assert kept_history(library, track_id) == (1, 1, 1)
    assert scan(library, [music]).unchanged == n_audio(music)


def test_a_file_moved_out_of_one_scanned_folder_into_another_is_found(library, music, tmp_path):
    scan(library, [music])
    old = music / "Metal" / METAL.name
    track_id = analyse_fakely(library, old)
    other = tmp_path / "USB stick"
    other.mkdir()
    shutil.move(old, other / "chaos god.ogg")
    report = scan(library, [other])  # only the new place is scanned
    assert (report.moved, report.added) == (1, 0)
    assert tracks(library)[str(other / "chaos god.ogg")].id == track_id


def test_a_copy_is_a_separate_track(library, music):
    scan(library, [music])
    original = music / "Metal" / METAL.name
    shutil.copy(original, music / "copy.ogg")
    report = scan(library, [music])
    assert (report.added, report.moved) == (1, 0)
    rows = tracks(library)
    assert rows[str(original)].fingerprint == rows[str(music / "copy.ogg")].fingerprint
    assert rows[str(original)].id != rows[str(music / "copy.ogg")].id


def test_a_moved_file_whose_copy_stays_is_still_a_move(library, music):
    original, copy = music / "Metal" / METAL.name, music / "copy.ogg"
    shutil.copy(original, copy)
    scan(library, [music])
    track_id = analyse_fakely(library, original)
    os.rename(original, music / "moved.ogg")
    report = scan(library, music)  # one path, not a list, is fine too
    assert (report.moved, report.added, report.missing) == (1, 0, 0)
    rows = tracks(library)
    assert rows[str(music / "moved.ogg")].id == track_id and rows[str(copy)].id != track_id


def test_a_file_matching_several_missing_tracks_is_not_taken_as_a_move(library, music):
    first, second = music / "a.ogg", music / "b.ogg"
    shutil.copy(METAL, first)
    shutil.copy(METAL, second)
    scan(library, [music])
    ids = {tracks(library)[str(p)].id for p in (first, second)}
    os.rename(first, music / "c.ogg")
    os.remove(second)
    report = scan(library, [music])
    assert (report.moved, report.added, report.missing) == (0, 1, 2)  # ambiguous: which one moved?
    rows = {t.id: t for t in tracks(library).values()}
    assert all(rows[i].missing_since is not None for i in ids)


def test_a_deleted_file_is_marked_missing_and_cleared_when_it_comes_back(library, music, tmp_path):
    scan(library, [music])
    path = music / "untagged.wav"
    track_id = analyse_fakely(library, path)
    saved = shutil.copy2(path, tmp_path / "saved.wav")
    path.unlink()

    report = scan(library, [music])
    assert (report.missing, report.unchanged) == (1, n_audio(music))
    gone = tracks(library)[str(path)]
    assert gone.missing_since is not None and gone.id == track_id
    assert kept_history(library, track_id) == (1, 1, 1)
    with library.session() as session:
        assert track_id not in {t.id for t in analyses_needed(session, ["m"], {"m": "1"})}
    assert scan(library, [music]).missing == 0  # counted once, when first found missing

    shutil.copy2(saved, path)  # back, same size and mtime
    report = scan(library, [music])
    assert (report.unchanged, report.missing) == (n_audio(music), 0)
    back = tracks(library)[str(path)]
    assert back.missing_since is None and back.id == track_id


def test_prune_missing_deletes_missing_tracks_with_their_analyses(library, music):
    scan(library, [music])
    path = music / "untagged.wav"
    track_id = analyse_fakely(library, path)
    path.unlink()
    scan(library, [music])
    assert prune_missing(library, older_than=timedelta(days=1)) == 0  # missing since just now
    assert prune_missing(library) == 1
    assert str(path) not in tracks(library)
    assert kept_history(library, track_id)[:2] == (0, 0)
    with library.session() as session:  # the journal keeps its record, unlinked
        entry = session.scalars(select(WriteEntry)).one()
        assert entry.track_id is None and entry.path == str(path)


def test_files_under_a_folder_that_cannot_be_walked_are_not_marked_missing(library, music, tmp_path):
    scan(library, [music])
    music.rename(tmp_path / "unmounted")  # like an external drive that is not plugged in
    report = scan(library, [music])
    assert report.missing == 0
    assert report.errors == [(str(music), "no such file or folder")]
    assert all(t.missing_since is None for t in tracks(library).values())


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_bad_files_get_an_error_row_and_a_report_entry_and_the_scan_goes_on(library, music):
    bad = music / "bad"
    bad.mkdir()
    (bad / "empty.mp3").write_bytes(b"")
    (bad / "notes.mp3").write_text("Track list for Saturday:\n1. Intro\n2. Outro\n" * 20)
    (bad / "truncated.flac").write_bytes((FORMATS / "tagged.flac").read_bytes()[:3000])
    (bad / "noise.ogg").write_bytes(os.urandom(20000))
    report = scan(library, [music, music / "no such folder"])

    assert report.added == n_audio(music) - 4
    causes = dict(report.errors)
    assert len(report.errors) == 5
    assert causes[str(bad / "empty.mp3")] == "file is empty"
    assert "text" in causes[str(bad / "notes.mp3")]
    assert "truncated or corrupt" in causes[str(bad / "truncated.flac")]
    assert causes[str(bad / "noise.ogg")]
    assert causes[str(music / "no such folder")] == "no such file or folder"
    rows = tracks(library)
    for name in ("empty.mp3", "notes.mp3", "truncated.flac", "noise.ogg"):
        row = rows[str(bad / name)]
        assert row.error == causes[str(bad / name)]
        assert row.fingerprint is None
    with library.session() as session:
        needed = {t.path for t in analyses_needed(session, ["m"], {"m": "1"})}
    assert not any(p.startswith(str(bad)) for p in needed) and len(needed) == n_audio(music) - 4

    # Every scan reads failed files again: fixed ones are cleared, the rest reported again.
    shutil.copy(FORMATS / "untagged.mp3", bad / "empty.mp3")
    report = scan(library, [music])
    assert (report.updated, len(report.errors), report.unchanged) == (1, 3, n_audio(music) - 4)
    assert tracks(library)[str(bad / "empty.mp3")].error is None


def test_an_unreadable_file_is_an_error_row(library, music, monkeypatch):
    path = music / "untagged.mp3"
    path.chmod(0)
    if os.geteuid() == 0:  # root reads whatever the mode
        deny_opening(monkeypatch, path)
    try:
        report = scan(library, [music])
    finally:
        path.chmod(0o644)
    assert dict(report.errors)[str(path)] == "permission denied"


def test_a_file_that_turns_corrupt_keeps_its_row_and_analyses_with_an_error(library, music):
    scan(library, [music])
    path = music / "untagged.mp3"
    track_id = analyse_fakely(library, path)
    path.write_bytes(b"\0" * 5000)
    report = scan(library, [music])
    assert report.updated == 0 and [p for p, _ in report.errors] == [str(path)]
    row = tracks(library)[str(path)]
    assert row.id == track_id and row.error and row.fingerprint is None
    assert kept_history(library, track_id) == (1, 1, 1)


def test_a_file_that_vanishes_mid_scan_is_reported_without_a_row(library, music, monkeypatch):
    doomed = music / "untagged.wav"
    real_probe = scanner.probe_audio

    def probe_after_deleting(path):
        if os.fspath(path) == str(doomed):
            doomed.unlink()
        return real_probe(path)

    monkeypatch.setattr(scanner, "probe_audio", probe_after_deleting)
    report = scan(library, [music])
    assert report.errors == [(str(doomed), "vanished during the scan")]
    assert report.added == n_audio(music)
    assert str(doomed) not in tracks(library)


def test_symlink_loops_are_walked_once(library, music):
    os.symlink(music, music / "Kevin MacLeod" / "loop")
    os.symlink(music / "Kevin MacLeod", music / "Metal" / "back")
    report = scan(library, [music])
    assert report.added == n_audio(music) and report.errors == []
    assert scan(library, [music]).unchanged == n_audio(music)


def test_non_utf8_file_names_round_trip(library, music):
    raw = os.fsencode(music) + b"/caf\xe9 \xff.mp3"
    shutil.copyfile(os.fsencode(FORMATS / "untagged.mp3"), raw)
    report = scan(library, [music])
    assert report.added == n_audio(music) and report.errors == []
    with library.session() as session:
        track = session.scalars(select(Track).where(Track.path_key == raw)).one()
    assert track.path == str(music) + "/caf\\udce9 \\udcff.mp3"  # readable, escaped
    assert track.path.encode("utf-8")  # valid text
    assert track.fingerprint == audio_payload_digest(os.fsdecode(raw))
    assert scan(library, [music]).unchanged == n_audio(music)


def test_a_named_file_and_a_relative_path_are_indexed_by_absolute_path(library, music, monkeypatch):
    monkeypatch.chdir(music)
    report = scan(library, ["untagged.mp3", "Metal"])
    assert report.added == 2
    assert set(tracks(library)) == {str(music / "untagged.mp3"), str(music / "Metal" / METAL.name)}
    assert scan(library, [music]).added == n_audio(music) - 2


# --------------------------------------------------------------------------------------------------
# Interruption
# --------------------------------------------------------------------------------------------------


def test_a_stopped_scan_keeps_what_it_stored_and_the_next_one_resumes(library, music):
    calls = []
    report = scan(
        library, [music], on_progress=lambda r, p: calls.append(p), should_stop=lambda: len(calls) >= 4
    )
    assert report.stopped and report.added == 4 and report.missing == 0
    assert len(tracks(library)) == 4
    report = scan(library, [music])
    assert (report.unchanged, report.added) == (4, n_audio(music) - 4)


def test_a_killed_scan_resumes_from_its_last_batch(library, music, monkeypatch):
    monkeypatch.setattr(scanner, "BATCH_FILES", 3)
    seen = []

    def die_on_the_eighth(report, path):
        seen.append(path)
        if len(seen) == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan(library, [music], on_progress=die_on_the_eighth)
    assert len(tracks(library)) == 6  # two batches of three were committed, the rest rolled back
    report = scan(library, [music])
    assert (report.unchanged, report.added) == (6, n_audio(music) - 6)


def test_a_stopped_scan_marks_nothing_missing(library, music):
    scan(library, [music])
    (music / "untagged.wav").unlink()
    report = scan(library, [music], should_stop=lambda: True)
    assert report.stopped and report.missing == 0
    assert all(t.missing_since is None for t in tracks(library).values())


def test_a_rescan_loads_only_the_tracks_under_its_folders(library, tmp_path):
    # The index's rows of the scanned folders alone (a million-track library rescans one folder by reading
    # that folder's rows): a sibling sharing the name's start ("Music 2", "Music0") is not inside "Music".
    now = utc_now()
    paths = ["/m/Music/a.mp3", "/m/Music/sub/b.mp3", "/m/Music 2/c.mp3", "/m/Music0/d.mp3", "/m/Musi/e.mp3"]
    with library.session() as session, session.begin():
        for n, path in enumerate(paths):
            columns = dict(
                path_key=path.encode(), path=path, folder=os.path.dirname(path), missing_since=None
            )
            session.add(synthetic_track(n, now, **columns))
    with library.session() as session:
        assert set(_load_index(session, ["/m/Music"])) == {b"/m/Music/a.mp3", b"/m/Music/sub/b.mp3"}
        assert set(_load_index(session, ["/m/Music/a.mp3", "/m/Music0"])) == {
            b"/m/Music/a.mp3",
            b"/m/Music0/d.mp3",
        }
        assert set(_load_index(session, ["/"])) == {path.encode() for path in paths}
        assert len(_load_index(session)) == len(paths)
