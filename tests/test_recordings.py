"""The same recording in other files (library/recordings.py): found from real analyses of real audio.

``tagged.ogg`` and ``tagged_copy.mp3`` hold the same 20 s of Vibe Ace, one Ogg Vorbis, the other an MP3
(LAME): no byte of their audio is the same, so the scanner's fingerprints differ. The death-metal
excerpt is another recording.
"""

import json
from dataclasses import replace

import numpy as np
from conftest import COPY, JAZZ, METAL
from sqlalchemy import select

from musictagger.gui.review_panel import field_view
from musictagger.library.recordings import (
    DURATION_TOLERANCE_S,
    copies_of,
    copies_of_each,
    read_prints,
    recording_groups,
    same_recording,
    tags_from_copies,
)
from musictagger.library.review_decisions import load_review_state
from musictagger.library.schema import Analysis, Track
from musictagger.library.similar import SIMILARITY_MODELS, similarity_index
from musictagger.services.similar import more_like
from musictagger.services.suggest import write_floor
from musictagger.services.writes import format_diff, plan_write, undo, write
from musictagger.settings import Settings
from musictagger.tags import read_tags
from musictagger.taxonomy import SelectionPolicy


def test_an_encoding_of_a_track_is_the_same_recording_and_another_track_is_not(recording_copies):
    library, ids = recording_copies
    ogg, mp3, metal = ids[JAZZ.name], ids[COPY.name], ids[METAL.name]
    with library.session() as session:
        fingerprints = {tid: fp for tid, fp in session.execute(select(Track.id, Track.fingerprint))}
        assert fingerprints[ogg] != fingerprints[mp3]  # not the same bytes: the scanner tells them apart
        index = similarity_index(session)
        assert recording_groups(session, index) == [sorted([ogg, mp3])]
        assert copies_of(session, index, ogg) == [mp3]
        assert copies_of(session, index, mp3) == [ogg]
        assert copies_of(session, index, metal) == []


def test_more_like_this_leaves_out_the_tracks_own_copies_and_lists_a_neighbours_once(recording_copies):
    library, ids = recording_copies
    with library.session() as session:
        found = [(n.track_id, n.copies) for n in more_like(session, ids[JAZZ.name])]
        assert found == [(ids[METAL.name], 0)]
        # From the metal track, the Ogg and its MP3 are one neighbour, at its nearer file, with one copy.
        (neighbour,) = more_like(session, ids[METAL.name])
    assert neighbour.track_id in (ids[JAZZ.name], ids[COPY.name]) and neighbour.copies == 1


def test_the_same_mean_sound_in_another_order_is_another_recording(recording_copies):
    """The rule's point: two tracks whose patches average out the same (equal embeddings, equal track
    scores) are not one recording unless they also unfold the same way over time."""
    library, ids = recording_copies
    with library.session() as session:
        prints = read_prints(session, ids.values(), SIMILARITY_MODELS)
    ogg, mp3 = prints[ids[JAZZ.name]], prints[ids[COPY.name]]
    assert same_recording(ogg, mp3)
    reversed_rows = {
        model: dict(zip(rows, reversed(list(rows.values())), strict=True)) for model, rows in ogg.rows.items()
    }
    assert not same_recording(ogg, replace(ogg, rows=reversed_rows))
    # A longer or shorter file is another edit (a radio edit, an extended mix), not a copy.
    assert not same_recording(ogg, replace(mp3, duration_s=mp3.duration_s + 2 * DURATION_TOLERANCE_S))
    # Too few patches in common say nothing: a copy analysed at other places is not matched on two.
    few = {model: dict(list(rows.items())[:2]) for model, rows in mp3.rows.items()}
    assert not same_recording(ogg, replace(mp3, rows=few))
    assert not same_recording(ogg, prints[ids[METAL.name]])
    assert all(len(rows) == 6 for rows in ogg.rows.values())
    np.testing.assert_array_equal(sorted(ogg.rows["MSD_musicnn"]), np.arange(6))


def test_a_write_fills_an_empty_genre_from_the_same_recordings_other_file(recording_copies, vocabulary):
    """The MP3 has no tags and no confident genre of its own (Electronic 0.31, Jazz 0.25: under their
    thresholds); its Ogg copy says Jazz. A write gives the MP3 that Jazz, says where it came from, and
    undo takes it back; with ``from_copies`` off the field is left as it is."""
    library, ids = recording_copies
    mp3 = ids[COPY.name]
    settings = Settings()
    (plan,) = plan_write(library, vocabulary, [mp3], settings)
    assert plan.old.get("genre", []) == [] and plan.new["genre"] == ["Jazz"]
    assert plan.copied_from["genre"].endswith(JAZZ.name)
    assert "no confident genre" not in plan.notes
    assert f"genre: (none) → Jazz  (as in {plan.copied_from['genre']}: the same recording)" in format_diff(
        [plan]
    )
    assert "genre from a copy on 1" in format_diff([plan])

    (without,) = plan_write(library, vocabulary, [mp3], settings.replace(write={"from_copies": False}))
    assert "genre" not in without.new and "no confident genre" in without.notes

    report = write(library, [plan], settings, "test")
    assert report.written == 1 and not report.failed
    assert read_tags(plan.path)["genre"] == ["Jazz"]
    undo(library, report.batch_id)
    assert "genre" not in read_tags(plan.path)


def test_copies_that_disagree_give_no_genre_and_the_review_panel_says_what_a_write_does(
    recording_copies, vocabulary
):
    library, ids = recording_copies
    ogg, mp3 = ids[JAZZ.name], ids[COPY.name]
    policy = Settings().write_policy()
    state = load_review_state(library, [mp3], SelectionPolicy(), write_floor(policy, vocabulary))
    assert state.first_copy_values["genre"][0] == ["Jazz"]
    *_, described, _placeholder = field_view(state, "genre", vocabulary, policy)
    assert described == (
        f"Not reviewed: no confident genre; a write copies Jazz from {JAZZ.name}, the same recording in "
        "another file."
    )
    # A third copy (the Ogg's audio and analyses) that says otherwise: the copies no longer agree, so
    # nothing is copied.
    kept = ("size", "mtime_ns", "fingerprint", "duration_s", "scanned_at")
    with library.session() as session, session.begin():
        other = session.get(Track, ogg)
        third = Track(
            **{name: getattr(other, name) for name in kept},
            path_key=other.path_key + b".copy",
            path=other.path + ".copy",
            folder=other.folder,
            file_tags={"genre": ["Funk"]},
        )
        session.add(third)
        session.flush()
        for row in session.scalars(select(Analysis).where(Analysis.track_id == ogg)).all():
            columns = {c.key: getattr(row, c.key) for c in Analysis.__table__.columns if c.key != "id"}
            session.add(Analysis(**{**columns, "track_id": third.id}))
    with library.session() as session:
        assert copies_of(session, similarity_index(session), mp3) == sorted([ogg, third.id])
    with library.session() as session:
        assert tags_from_copies(session, [mp3], ["genre"]) == {}


def test_many_tracks_find_their_copies_in_one_pass_as_one_by_one(recording_copies, monkeypatch):
    from musictagger.library import recordings

    library, ids = recording_copies
    ogg, mp3, metal = ids[JAZZ.name], ids[COPY.name], ids[METAL.name]
    with library.session() as session:
        index = similarity_index(session)
        one_by_one = copies_of_each(session, index, [ogg, mp3, metal])
        monkeypatch.setattr(recordings, "_ONE_PASS_FROM", 0)  # a selection large enough for one pass
        assert copies_of_each(session, index, [ogg, mp3, metal]) == one_by_one == {ogg: [mp3], mp3: [ogg]}
        assert copies_of_each(session, index, [metal, mp3]) == {mp3: [ogg]}


def test_the_review_panel_counts_a_selections_tracks_that_take_a_genre_from_a_copy(
    recording_copies, vocabulary
):
    """Before, a selection's line said "no confident genre" of a track the write then filled from its copy."""
    library, ids = recording_copies
    mp3, metal = ids[COPY.name], ids[METAL.name]
    policy = Settings().write_policy()
    state = load_review_state(library, [mp3, metal], SelectionPolicy(), write_floor(policy, vocabulary))
    assert state.copy_values == {mp3: {"genre": (["Jazz"], state.copy_values[mp3]["genre"][1])}}
    *_, described, _placeholder = field_view(state, "genre", vocabulary, policy)
    assert "A write has a genre for 2 of them (1 from the same recording in another file)." in described
    *_, described, _placeholder = field_view(state, "genre", vocabulary, replace(policy, from_copies=False))
    assert "A write has a genre for 1 of them; 1 has no confident genre." in described
    # The Ogg holds Jazz in its file and no genre is confident for it: the write keeps that, and says so.
    state = load_review_state(
        library, [ids[JAZZ.name], mp3], SelectionPolicy(), write_floor(policy, vocabulary)
    )
    assert state.file_fields == {ids[JAZZ.name]: frozenset({"genre"})}
    *_, described, _placeholder = field_view(state, "genre", vocabulary, policy)
    assert described.endswith(
        "A write has a genre for 1 of them (1 from the same recording in another file); 1 with no confident "
        "genre keeps the file's own."
    )


def test_list_duplicates_names_each_recordings_files_lossless_first(recording_copies, library_url, capsys):
    from musictagger.cli import main

    _, ids = recording_copies
    assert main(["list", "--duplicates", "--db", library_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "recording 1: 2 files, 20.0 s"
    assert lines[1].strip().split("  ")[0].endswith(JAZZ.name) and lines[1].endswith("genre: Jazz  mood: -")
    assert lines[2].strip().split("  ")[0].endswith(COPY.name) and lines[2].endswith("genre: -  mood: -")
    assert lines[3] == "1 recording in more than one file: 1 file more than one per recording"

    assert main(["list", "--duplicates", "--json", "--search", "copy", "--db", library_url]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [f["track_id"] for f in record["files"]] == [ids[JAZZ.name], ids[COPY.name]]
    assert [(f["codec"], f["lossless"]) for f in record["files"]] == [("vorbis", False), ("mp3", False)]
    assert main(["list", "--duplicates", "--search", "chaos", "--db", library_url]) == 0
    assert capsys.readouterr().out == "0 recordings in more than one file\n"
    assert main(["list", "--duplicates", "--like", str(JAZZ), "--db", library_url]) == 2


def test_tag_dry_run_says_where_a_copied_genre_comes_from_and_can_be_told_not_to(
    recording_copies, library_url, capsys
):
    from musictagger.cli import main

    library, _ = recording_copies
    with library.session() as session:
        folder = session.scalar(select(Track.folder).limit(1))
    args = ["tag", "--dry-run", "--quiet", folder, "--db", library_url, "--device", "cpu"]
    assert main(args) == 0
    out = capsys.readouterr().out
    copy = f"{folder}/{COPY.name}"
    assert f"{copy}\n  genre: (none) → Jazz  (as in {folder}/{JAZZ.name}: the same recording)" in out
    assert main([*args, "--no-from-copies"]) == 0
    out = capsys.readouterr().out
    block = out[out.index(f"{copy}\n") :].split("\n/")[0]
    assert "\n  genre: " not in block and "(no confident genre: left as it is)" in block


def test_list_like_lists_a_recording_in_several_files_once(recording_copies, library_url, capsys):
    from musictagger.cli import main

    library, ids = recording_copies
    with library.session() as session:
        metal = session.get(Track, ids[METAL.name]).path
    assert main(["list", "--like", metal, "--db", library_url]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("  (+1 copy)") and line.split("  ")[0].endswith((JAZZ.name, COPY.name))
    assert main(["list", "--like", metal, "--json", "--db", library_url]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["copies"] == 1
