"""Writing the index's suggestions into files: policy, dry run, journaled apply, undo, recovery.

Real files (tests/data/formats) and a real SQLite index; Track and TrackLabel rows are made here directly.
Oracles are independent of the code under test: tags through read_tags (the tag layer has its own tests),
audio by decoding with soundfile or PyAV, bytes by reading the file.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from helpers import audio_digest, track_row
from sqlalchemy import select, text

from musictagger.library import Track, TrackLabel, WriteBatch, WriteEntry, open_library, writing
from musictagger.library.policy import WritePolicy, comment_with_block, resolve_field
from musictagger.library.writing import (
    INTERRUPTED,
    PlannedWrite,
    UndoError,
    apply_writes,
    format_diff,
    list_batches,
    plan_writes,
    recover_journal,
    undo_batch,
)
from musictagger.tags import find_stale_temp_files, read_tags, write_tags

FORMATS = Path(__file__).parent / "data" / "formats"
FIXTURES = sorted(p.name for p in FORMATS.iterdir() if p.suffix != ".md")
MIK = "1A - Energy 6"
# Calibrated scores as the analysis stores them; under the shipped per-label thresholds: House (a style,
# never written) and Melancholic. Happy (0.45) passes its threshold (0.37) but not min_score 0.7.
LABELS = {
    "genre": [("Electronic", 0.8), ("Jazz", 0.6), ("House", 0.1)],
    "mood": [("Chill", 0.7), ("Dark", 0.5), ("Happy", 0.45), ("Melancholic", 0.05)],
}


def copy_fixture(tmp_path: Path, name: str, as_name: str | bytes | None = None) -> Path:
    folder = tmp_path / "music"
    folder.mkdir(exist_ok=True)
    target = os.path.join(os.fsencode(folder), os.fsencode(as_name or name))
    shutil.copyfile(FORMATS / name, target)
    return Path(os.fsdecode(target))


def add_track(library, path: Path, labels=LABELS, energy: float | None = None) -> int:
    """A Track row as the scanner would make it, with its labels; the index's tags are deliberately stale."""
    with library.session() as session:
        track = track_row(
            path,
            path=os.fsencode(path).decode("utf-8", "backslashreplace"),
            file_tags={"genre": ["stale"]},
            energy=energy,
        )
        session.add(track)
        session.flush()
        for category, scored in labels.items():
            for rank, (label, score) in enumerate(sorted(scored, key=lambda s: -s[1])):
                session.add(
                    TrackLabel(track_id=track.id, category=category, label=label, score=score, rank=rank)
                )
        session.commit()
        return track.id


def plan(library, vocabulary, policy, track_ids=None) -> list[PlannedWrite]:
    with library.session() as session:
        tracks = track_ids if track_ids is not None else session.scalars(select(Track).order_by(Track.id))
        return plan_writes(session, list(tracks), policy, vocabulary)


def batches(library):
    with library.session() as session:
        return list_batches(session)


def entries(library) -> list[WriteEntry]:
    with library.session() as session:
        return list(session.scalars(select(WriteEntry).order_by(WriteEntry.id)))


# --- policy semantics (pure) ------------------------------------------------------------------------------


def test_policy_json_round_trip_and_validation():
    policy = WritePolicy(genre="merge", mood="skip", max_genres=3, comment_block=True, id3v23_separator="/")
    assert WritePolicy.from_json(policy.to_json()) == policy
    assert WritePolicy.from_json({**policy.to_json(), "from_a_later_version": 1}) == policy
    with pytest.raises(ValueError, match="genre mode"):
        WritePolicy(genre="overwrite")
    with pytest.raises(ValueError, match="max_moods"):
        WritePolicy(max_moods=-1)
    with pytest.raises(ValueError, match="separator"):
        WritePolicy(id3v23_separator="")


@pytest.mark.parametrize(
    ("mode", "current", "expected"),
    [
        ("fill", [], ["Hip-Hop", "Jazz"]),
        ("fill", ["Rock"], ["Rock"]),
        ("fill", [" "], ["Hip-Hop", "Jazz"]),  # a blank value is no value
        ("merge", ["Rock"], ["Rock", "Hip-Hop", "Jazz"]),
        # one value in any spelling: vocabulary synonyms, case, hyphens
        ("merge", ["hip hop", "JAZZ"], ["hip hop", "JAZZ"]),
        ("merge", ["hiphop"], ["hiphop", "Hip-Hop", "Jazz"]),  # not a known spelling: a different value
        ("replace", ["Rock", "hip hop"], ["Hip-Hop", "Jazz"]),
        ("skip", ["Rock"], ["Rock"]),
        ("skip", [], []),
    ],
)
def test_resolve_field(vocabulary, mode, current, expected):
    assert resolve_field(mode, current, ["Hip-Hop", "Jazz"], vocabulary) == expected


@pytest.mark.parametrize("mode", ["fill", "merge", "replace"])
def test_no_suggestion_never_deletes(vocabulary, mode):
    assert resolve_field(mode, ["Rock"], [], vocabulary) == ["Rock"]


def test_comment_block_values():
    block = {"mood": ["Chill"], "genre": ["Jazz"]}
    assert comment_with_block([MIK], block) == [f"{MIK} [mood: Chill | genre: Jazz]"]
    assert comment_with_block([], block) == ["[mood: Chill | genre: Jazz]"]
    # Only the first value carries the block (Rekordbox reads only that one); others stay.
    assert comment_with_block([MIK, "second"], block) == [f"{MIK} [mood: Chill | genre: Jazz]", "second"]
    assert comment_with_block(["[mood: Sad]"], {"mood": [], "genre": []}) == []
    with pytest.raises(ValueError):
        comment_with_block([MIK], {"genre": ["Drum | Bass"]})


# --- planning on real files -------------------------------------------------------------------------------


def test_fill_caps_threshold_and_file_is_reread(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.flac")  # genre Jazz, no mood
    track_id = add_track(library, path)
    [p] = plan(library, vocabulary, WritePolicy())
    assert p.track_id == track_id and p.path == str(path) and p.error is None
    # genre has a value (the file's, not the index's stale one): left alone; mood: the top 2 at thresholds
    assert p.old == {"mood": []}
    assert p.new == {"mood": ["Chill", "Dark"]}


def test_merge_replace_skip(tmp_path, library, vocabulary):
    add_track(library, copy_fixture(tmp_path, "tagged.flac"))
    [merge] = plan(library, vocabulary, WritePolicy(genre="merge", mood="skip"))
    assert merge.old == {"genre": ["Jazz"]}
    assert merge.new == {"genre": ["Jazz", "Electronic"]}  # Jazz is there; cap 2 counts suggestions
    [replace] = plan(library, vocabulary, WritePolicy(genre="replace", mood="merge", max_moods=3))
    assert replace.new == {"genre": ["Electronic", "Jazz"], "mood": ["Chill", "Dark", "Happy"]}
    [higher] = plan(
        library, vocabulary, WritePolicy(genre="replace", mood="skip", min_score=0.7, max_genres=5)
    )
    assert higher.new == {"genre": ["Electronic"]}
    assert plan(library, vocabulary, WritePolicy(genre="skip", mood="skip")) == []


def test_canonical_spellings_merge(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged_id3v24.mp3")
    write_tags(path, {"genre": ["hip hop", "electronic"]})
    add_track(library, path, labels={"genre": [("Hip-Hop", 0.9), ("Electronic", 0.8)]})
    # Both already there: nothing changes; the track had no mood to offer, and the plan says so.
    [unchanged] = plan(library, vocabulary, WritePolicy(genre="merge"))
    assert unchanged.new == {} and unchanged.notes == ("no confident mood",)


def test_unchanged_tracks_and_unanalysed_tracks_are_left_out(tmp_path, library, vocabulary):
    add_track(library, copy_fixture(tmp_path, "tagged.flac"), labels={})
    add_track(library, copy_fixture(tmp_path, "tagged.ogg"), labels={"genre": [("Jazz", 0.9)]})
    plans = plan(library, vocabulary, WritePolicy(genre="merge", mood="replace"))
    # The unanalysed track is left out; the analysed one changes nothing and says why its mood stays.
    assert [(p.new, p.notes) for p in plans] == [({}, ("no confident mood",))]
    assert "(no confident mood: left as it is)" in format_diff(plans)
    assert format_diff(plans).endswith("0 files to change; no confident mood on 1")  # the batch's count
    assert apply_writes(library, plans, WritePolicy()).batch_id is None  # nothing written, no batch


def test_unreadable_file_is_a_reported_plan(tmp_path, library, vocabulary):
    bad = tmp_path / "music" / "not_audio.flac"
    bad.parent.mkdir()
    bad.write_text("not a FLAC file\n" * 10)
    add_track(library, bad)
    add_track(library, copy_fixture(tmp_path, "tagged.flac"))
    bad_plan, good = plan(library, vocabulary, WritePolicy())
    assert bad_plan.error and "cannot read" in bad_plan.error and not bad_plan.new
    assert good.error is None
    diff = format_diff([bad_plan, good])
    assert "not_audio.flac\n  ! cannot read its tags" in diff
    assert diff.endswith("1 file to change, 1 unreadable")


# --- comment block ----------------------------------------------------------------------------------------


def test_comment_block_appended_then_rewritten_in_place(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged_id3v23.mp3")
    track_id = add_track(library, path)
    policy = WritePolicy(genre="skip", mood="skip", comment_block=True)
    [first] = plan(library, vocabulary, policy)
    assert first.new == {"comment": [f"{MIK} [mood: Chill; Dark | genre: Electronic; Jazz]"]}
    apply_writes(library, [first], policy)
    assert read_tags(path)["comment"] == [f"{MIK} [mood: Chill; Dark | genre: Electronic; Jazz]"]
    assert plan(library, vocabulary, policy) == []  # the same block again: nothing to do

    # The user adds a note after the block; the analysis changes: the block is rewritten where it is.
    write_tags(path, {"comment": [f"{MIK} [mood: Chill; Dark | genre: Electronic; Jazz] great opener"]})
    with library.session() as session:
        session.execute(text("UPDATE track_labels SET score = 0.01 WHERE label = 'Dark'"))
        session.execute(text("UPDATE track_labels SET score = 0.95 WHERE label = 'Jazz'"))
        session.commit()
    [second] = plan(library, vocabulary, policy, [track_id])
    apply_writes(library, [second], policy)
    comment = read_tags(path)["comment"]
    assert comment == [f"{MIK} [mood: Chill; Happy | genre: Jazz; Electronic] great opener"]
    assert comment[0].encode().startswith(MIK.encode() + b" [")
    assert comment[0].count("[") == 1


def test_comment_block_on_a_file_without_comment(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "untagged.wav")
    add_track(library, path)
    policy = WritePolicy(comment_block=True)
    apply_writes(library, plan(library, vocabulary, policy), policy)
    tags = read_tags(path)
    assert tags["comment"] == ["[mood: Chill; Dark | genre: Electronic; Jazz]"]
    assert tags["genre"] == ["Electronic", "Jazz"] and tags["mood"] == ["Chill", "Dark"]


# --- dry run, apply, journal ------------------------------------------------------------------------------


def test_dry_run_writes_nothing(tmp_path, library, vocabulary):
    paths = [copy_fixture(tmp_path, name) for name in FIXTURES]
    for path in paths:
        add_track(library, path)
    before = {path: path.read_bytes() for path in paths}
    plans = plan(library, vocabulary, WritePolicy(genre="merge", comment_block=True))
    diff = format_diff(plans)
    assert len(plans) == len(paths)
    assert f"{paths[0]}\n  genre: Jazz → Jazz; Electronic\n" in diff
    assert "  mood: (none) → Chill; Dark\n" in diff
    assert f"  comment: {MIK} → {MIK} [mood: Chill; Dark | genre: Electronic; Jazz]\n" in diff
    assert diff.endswith(f"{len(paths)} files to change")
    assert format_diff([]) == ""
    assert {path: path.read_bytes() for path in paths} == before
    assert sorted(p.name for p in (tmp_path / "music").iterdir()) == sorted(p.name for p in paths)
    assert batches(library) == []


def test_apply_writes_journals_and_updates_the_index(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged_alac.m4a")
    track_id = add_track(library, path)
    audio = audio_digest(path)
    policy = WritePolicy(genre="merge", mood="replace")
    plans = plan(library, vocabulary, policy)
    report = apply_writes(library, plans, policy, description="test run")
    assert (report.written, report.failed, report.skipped) == (1, [], 0)
    assert read_tags(path)["genre"] == ["Jazz", "Electronic"]
    assert read_tags(path)["mood"] == ["Chill", "Dark"]
    assert audio_digest(path) == audio
    with library.session() as session:
        batch = session.get(WriteBatch, report.batch_id)
        assert batch.description == "test run" and batch.undone_at is None
        assert WritePolicy.from_json(batch.policy) == policy
        [entry] = batch.entries
        assert entry.status == "written" and entry.error is None and entry.track_id == track_id
        assert entry.path_key == os.fsencode(path)
        assert entry.old == {"genre": ["Jazz"], "mood": []}
        assert entry.new == {"genre": ["Jazz", "Electronic"], "mood": ["Chill", "Dark"]}
        track = session.get(Track, track_id)
        st = path.stat()
        assert (track.size, track.mtime_ns) == (st.st_size, st.st_mtime_ns)
        assert track.file_tags == read_tags(path)
    [summary] = batches(library)
    assert (summary.id, summary.files, summary.failed, summary.undone) == (report.batch_id, 1, 0, False)


def test_nothing_to_write_makes_no_batch(library):
    report = apply_writes(library, [], WritePolicy())
    assert report.batch_id is None and report.written == 0
    assert batches(library) == []


def test_failing_files_fail_alone(tmp_path, library, vocabulary):
    good = [copy_fixture(tmp_path, name) for name in ("tagged.flac", "tagged.opus", "tagged.wma")]
    bad = tmp_path / "music" / "not_audio.flac"
    bad.write_text("not a FLAC file\n" * 10)
    readonly = copy_fixture(tmp_path, "tagged_aac.m4a")
    for path in [good[0], bad, readonly, good[1], good[2]]:
        add_track(library, path)
    policy = WritePolicy(genre="replace")
    plans = plan(library, vocabulary, policy)
    readonly.chmod(0o444)  # readable when planned, refused when written
    try:
        report = apply_writes(library, plans, policy)
    finally:
        readonly.chmod(0o644)
    assert report.written == 3
    assert [Path(path).name for path, _ in report.failed] == ["not_audio.flac", "tagged_aac.m4a"]
    assert "read-only" in report.failed[1][1]
    for path in good:
        assert read_tags(path)["genre"] == ["Electronic", "Jazz"]
    assert read_tags(readonly)["genre"] == ["Jazz"]
    statuses = {Path(e.path).name: (e.status, e.error) for e in entries(library)}
    assert statuses["tagged_aac.m4a"][0] == "failed" and "read-only" in statuses["tagged_aac.m4a"][1]
    assert "not_audio.flac" not in statuses  # never planned, so never journaled
    assert [s for s, _ in statuses.values()].count("written") == 3


def test_file_changed_between_plan_and_write_is_left_alone(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.ogg")
    add_track(library, path)
    policy = WritePolicy(genre="merge")
    plans = plan(library, vocabulary, policy)
    write_tags(path, {"genre": ["Swing"]})
    report = apply_writes(library, plans, policy)
    assert report.written == 0 and report.conflicts == [str(path)]
    assert read_tags(path)["genre"] == ["Swing"]
    assert entries(library) == []


# --- undo -------------------------------------------------------------------------------------------------


def test_undo_restores_every_container_exactly(tmp_path, library, vocabulary):
    paths = [copy_fixture(tmp_path, name) for name in FIXTURES]
    for path in paths:
        add_track(library, path)
    tags = {path: read_tags(path) for path in paths}
    audio = {path: audio_digest(path) for path in paths}
    policy = WritePolicy(genre="merge", mood="replace", comment_block=True)
    report = apply_writes(library, plan(library, vocabulary, policy), policy)
    assert report.written == len(paths) and not report.failed
    assert all(read_tags(path) != tags[path] for path in paths)

    undone = undo_batch(library)
    assert (undone.batch_id, undone.written, undone.failed) == (report.batch_id, len(paths), [])
    for path in paths:
        assert read_tags(path) == tags[path], path.name  # absent fields are absent again
        assert audio_digest(path) == audio[path], path.name
        assert find_stale_temp_files(path.parent) == []
    assert {e.status for e in entries(library)} == {"undone"}
    with library.session() as session:
        assert session.get(WriteBatch, report.batch_id).undone_at is not None
        for track in session.scalars(select(Track)):
            assert track.file_tags == read_tags(track.path)
            assert track.mtime_ns == Path(track.path).stat().st_mtime_ns
    [summary] = batches(library)
    assert summary.undone and summary.files == len(paths)
    with pytest.raises(UndoError, match="no write batch left"):
        undo_batch(library)
    with pytest.raises(UndoError, match="already undone"):
        undo_batch(library, report.batch_id)
    with pytest.raises(UndoError, match="no write batch 99"):
        undo_batch(library, 99)


def test_undo_after_restart_takes_the_latest_batch(tmp_path, vocabulary):
    db = tmp_path / "index.sqlite"
    path = copy_fixture(tmp_path, "tagged_id3v23.mp3")
    original = read_tags(path)
    with open_library(db) as library:
        add_track(library, path)
        policy = WritePolicy(genre="merge", mood="skip", id3v23_separator=" / ")
        first = apply_writes(library, plan(library, vocabulary, policy), policy)
        policy2 = WritePolicy(mood="replace")
        second = apply_writes(library, plan(library, vocabulary, policy2), policy2)
    # ID3v2.3 holds one string: the batch's own separator joined the genres.
    assert read_tags(path, id3v23_separator=" / ")["genre"] == ["Jazz", "Electronic"]
    assert read_tags(path)["genre"] == ["Jazz / Electronic"]

    with open_library(db) as library:  # a new process, as far as the index knows
        assert undo_batch(library).batch_id == second.batch_id
        assert "mood" not in read_tags(path)
        assert undo_batch(library).batch_id == first.batch_id  # undone with " / " from the journal
    assert read_tags(path) == original


def test_undo_conflict_left_alone_unless_forced(tmp_path, library, vocabulary):
    edited, other = copy_fixture(tmp_path, "tagged.flac"), copy_fixture(tmp_path, "tagged_aac.m4a")
    add_track(library, edited)
    add_track(library, other)
    original = read_tags(edited)
    policy = WritePolicy(genre="replace", mood="replace")
    batch = apply_writes(library, plan(library, vocabulary, policy), policy).batch_id
    write_tags(edited, {"genre": ["Nu Jazz"]})  # the user edits one file afterwards

    report = undo_batch(library)
    assert report.written == 1 and report.conflicts == [str(edited)]
    assert "genre changed since" in report.failed[0][1]
    assert read_tags(edited)["genre"] == ["Nu Jazz"] and read_tags(edited)["mood"] == ["Chill", "Dark"]
    assert read_tags(other)["genre"] == ["Jazz"]
    [summary] = batches(library)
    assert not summary.undone  # one file still holds the batch's values

    forced = undo_batch(library, batch, force=True)
    assert forced.written == 1 and not forced.failed
    assert read_tags(edited) == original
    assert batches(library)[0].undone


def test_undo_interrupted_after_writing_is_finished_without_conflict(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.opus")
    add_track(library, path)
    original = read_tags(path)
    policy = WritePolicy(genre="replace")
    apply_writes(library, plan(library, vocabulary, policy), policy)
    [entry] = entries(library)
    write_tags(path, entry.old)  # what an undo killed before its commit leaves behind
    report = undo_batch(library)
    assert report.written == 1 and not report.failed
    assert read_tags(path) == original


def test_non_utf8_file_name(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.flac", as_name=b"caf\xe9 \xff.flac")
    add_track(library, path)
    policy = WritePolicy(genre="replace")
    plans = plan(library, vocabulary, policy)
    assert "caf\\udce9 \\udcff.flac" in format_diff(plans)
    assert apply_writes(library, plans, policy).written == 1
    assert read_tags(path)["genre"] == ["Electronic", "Jazz"]
    assert undo_batch(library).written == 1
    assert read_tags(path)["genre"] == ["Jazz"]


# --- journal recovery -------------------------------------------------------------------------------------


def test_recover_journal_settles_planned_entries(tmp_path, library):
    names = ("tagged.flac", "tagged.ogg", "tagged_aac.m4a", "tagged.wma")
    completed, interrupted, edited, missing = (copy_fixture(tmp_path, name) for name in names)
    with library.session() as session:
        batch = WriteBatch(created_at=datetime.now(), policy=WritePolicy().to_json())
        session.add(batch)
        session.flush()
        for path in (completed, interrupted, edited, missing):
            session.add(
                WriteEntry(
                    batch_id=batch.id,
                    path_key=os.fsencode(path),
                    path=str(path),
                    old={"genre": ["Jazz"], "mood": []},
                    new={"genre": ["House"], "mood": ["Chill"]},
                    status="planned",
                    updated_at=datetime.now(),
                )
            )
        session.commit()
    write_tags(completed, {"genre": ["House"], "mood": ["Chill"]})  # written, then killed before the commit
    write_tags(edited, {"genre": ["Swing"]})
    missing.unlink()
    temp = completed.parent / f".tagged{'.musictagger-'}abcd1234.flac"  # a killed write's copy
    temp.write_bytes(completed.read_bytes())

    found = {Path(r.path).name: (r.status, r.detail) for r in recover_journal(library)}
    assert found["tagged.flac"][0] == "written"
    assert found["tagged.ogg"] == ("failed", INTERRUPTED)
    assert found["tagged_aac.m4a"][0] == "planned" and "neither" in found["tagged_aac.m4a"][1]
    assert found["tagged.wma"][0] == "planned" and "cannot read" in found["tagged.wma"][1]
    assert not temp.exists() and find_stale_temp_files(completed.parent) == []
    statuses = {Path(e.path).name: (e.status, e.error) for e in entries(library)}
    assert statuses["tagged.flac"] == ("written", None)
    assert statuses["tagged.ogg"] == ("failed", INTERRUPTED)
    assert statuses["tagged_aac.m4a"][0] == "planned"
    # Unsettled entries are reported again next time; settled ones are not.
    assert {Path(r.path).name for r in recover_journal(library)} == {"tagged_aac.m4a", "tagged.wma"}
    if library.engine.dialect.name != "sqlite":
        return  # PostgreSQL: durable commits are the server's default (fsync, synchronous_commit)
    with library.session() as session:
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        # Every commit of the index is durable (FULL = 2): the journal never loses a written entry
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2


def test_a_recovery_killed_midway_leaves_no_temporary_copy_behind(tmp_path, library, monkeypatch):
    # Found by bench/bench_sigkill.py: a run killed inside recovery, after it had settled the entries but
    # before it removed the copies, left no planned entry to lead the next recovery to that folder.
    path = copy_fixture(tmp_path, "tagged.ogg")
    with library.session() as session:
        batch = WriteBatch(created_at=datetime.now(), policy=WritePolicy().to_json())
        session.add(batch)
        session.flush()
        session.add(
            WriteEntry(
                batch_id=batch.id,
                path_key=os.fsencode(path),
                path=str(path),
                old={"genre": ["Jazz"]},
                new={"genre": ["House"]},
                status="planned",
                updated_at=datetime.now(),
            )
        )
        session.commit()
    temp = path.parent / ".tagged.musictagger-abcd1234.ogg"  # the killed write's copy
    temp.write_bytes(path.read_bytes())

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # stands for the SIGKILL: nothing after this point runs

    monkeypatch.setattr(writing, "_read_fields", killed)
    with pytest.raises(KeyboardInterrupt):
        recover_journal(library)
    assert find_stale_temp_files(path.parent) == []
    assert [e.status for e in entries(library)] == ["planned"]  # settled by the next recovery
    monkeypatch.undo()
    assert [(Path(r.path).name, r.status) for r in recover_journal(library)] == [("tagged.ogg", "failed")]


def test_apply_and_undo_report_what_recovery_settled(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.flac")
    add_track(library, path)
    policy = WritePolicy(genre="replace")
    apply_writes(library, plan(library, vocabulary, policy), policy)
    with library.session() as session:  # as if killed between the write and its commit
        session.execute(text("UPDATE write_entries SET status = 'planned'"))
        session.commit()
    report = apply_writes(library, [], policy)
    assert [(r.path, r.status) for r in report.recovered] == [(str(path), "written")]
    assert undo_batch(library).recovered == []


# --- energy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_energy_goes_where_mixed_in_key_puts_it_and_reads_back_in_every_container(
    tmp_path, library, vocabulary, name
):
    path = copy_fixture(tmp_path, name)
    add_track(library, path, energy=6.4)
    policy = WritePolicy(genre="skip", mood="skip")
    [p] = plan(library, vocabulary, policy)
    assert p.new == {"energy": ["6"]}  # a whole number, as MIK writes it
    report = apply_writes(library, [p], policy)
    assert report.written == 1 and not report.failed
    assert read_tags(path)["energy"] == ["6"]
    assert undo_batch(library).written == 1
    assert "energy" not in read_tags(path)


def test_energy_fill_keeps_mixed_in_keys_value_replace_and_skip(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged_id3v24.mp3")
    write_tags(path, {"energy": ["7"]})
    add_track(library, path, labels={"genre": [("Jazz", 0.9)]}, energy=3.6)
    assert plan(library, vocabulary, WritePolicy(genre="skip", mood="skip")) == []  # fill: MIK's 7 stays
    [replace] = plan(library, vocabulary, WritePolicy(genre="skip", mood="skip", energy="replace"))
    assert replace.old == {"energy": ["7"]} and replace.new == {"energy": ["4"]}
    assert plan(library, vocabulary, WritePolicy(genre="skip", mood="skip", energy="skip")) == []
    [block] = plan(library, vocabulary, WritePolicy(genre="skip", mood="skip", comment_block=True))
    assert block.new["comment"][0].endswith("[genre: Jazz | energy: 4]")
    with pytest.raises(ValueError, match="energy mode"):
        WritePolicy(energy="merge")
