"""Review state in the index: accept / edit / reject per track and field, the v1 → v2 upgrade, and plans
that follow the reviews. Real files (tests/data/formats) and a real SQLite index; tags read back with
read_tags, independent of the planning code.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from helpers import track_row
from sqlalchemy import create_engine, inspect, text

from musictagger.library import Track, TrackLabel, folder_digests, label_bits, open_library, search_text
from musictagger.library.db import head_revision, legacy_schema_version, schema_revision
from musictagger.library.facet_counts import drop_triggers
from musictagger.library.policy import WritePolicy
from musictagger.library.review import (
    clear_reviews,
    planned_writes_with_reviews,
    reviews_for,
    set_review,
    suggestions_for,
)
from musictagger.library.schema import TrackReview
from musictagger.library.writing import apply_writes, format_diff, plan_writes, undo_batch
from musictagger.tags import read_tags

FORMATS = Path(__file__).parent / "data" / "formats"
LABELS = {
    "genre": [("Electronic", 0.8), ("Jazz", 0.6), ("House", 0.1)],
    "mood": [("Chill", 0.7), ("Mellow", 0.5), ("Sad", 0.05)],
}


def add_track(library, tmp_path: Path, name: str, labels=LABELS) -> int:
    """A copy of a fixture and its Track row with labels, as the scanner and analyser leave them."""
    path = tmp_path / name
    shutil.copyfile(FORMATS / name, path)
    with library.session() as session:
        track = track_row(path)
        for category, scored in labels.items():
            for rank, (label, score) in enumerate(scored, start=1):
                track.labels.append(TrackLabel(category=category, label=label, score=score, rank=rank))
        session.add(track)
        session.commit()
        return track.id


def test_set_review_upserts_and_reads_back(library, tmp_path):
    a = add_track(library, tmp_path, "untagged.mp3")
    b = add_track(library, tmp_path, "tagged.flac")
    with library.session() as session:
        set_review(session, [a, b], "genre", None, "accepted")
        set_review(session, [a], "mood", [" Chill ", "chill", "Dreamy", ""], "edited")
        session.commit()
    with library.session() as session:
        set_review(session, [b], "genre", ["Jazz"], "edited")  # replaces b's earlier decision
        set_review(session, [b], "mood", ["ignored"], "rejected")
        session.commit()
        reviews = reviews_for(session, [a, b])
        assert session.query(TrackReview).count() == 4  # one row per (track, field)
    assert reviews[a]["genre"].status == "accepted" and reviews[a]["genre"].values is None
    assert reviews[a]["mood"].values == ("Chill", "Dreamy")
    assert reviews[b]["genre"].values == ("Jazz",) and reviews[b]["genre"].status == "edited"
    assert reviews[b]["mood"].status == "rejected" and reviews[b]["mood"].values is None


def test_empty_edit_is_a_rejection_and_clear_forgets(library, tmp_path):
    a = add_track(library, tmp_path, "untagged.mp3")
    with library.session() as session:
        set_review(session, [a], "genre", ["  "], "edited")
        set_review(session, [a], "mood", ["Chill"], "accepted")
        session.commit()
        assert reviews_for(session, [a])[a]["genre"].status == "rejected"
        clear_reviews(session, [a], "genre")
        session.commit()
        assert set(reviews_for(session, [a])[a]) == {"mood"}
        clear_reviews(session, [a])
        session.commit()
        assert reviews_for(session, [a]) == {}


def test_bad_arguments_are_refused(library, tmp_path):
    a = add_track(library, tmp_path, "untagged.mp3")
    with library.session() as session:
        with pytest.raises(ValueError, match="field"):
            set_review(session, [a], "comment", ["x"], "edited")
        with pytest.raises(ValueError, match="status"):
            set_review(session, [a], "genre", ["x"], "maybe")
        with pytest.raises(ValueError, match="values"):
            set_review(session, [a], "genre", None, "edited")


def test_deleting_a_track_deletes_its_reviews(library, tmp_path):
    a = add_track(library, tmp_path, "untagged.mp3")
    with library.session() as session:
        set_review(session, [a], "genre", ["Jazz"], "edited")
        session.commit()
        session.execute(text("DELETE FROM tracks WHERE id = :id"), {"id": a})
        session.commit()
        assert session.query(TrackReview).count() == 0


def test_plans_follow_reviews(library, tmp_path, vocabulary):
    accepted = add_track(library, tmp_path, "untagged.mp3")
    edited = add_track(library, tmp_path, "untagged.wav")
    rejected = add_track(library, tmp_path, "tagged.flac")
    plain = add_track(library, tmp_path, "tagged.ogg")
    policy = WritePolicy(genre="fill", mood="fill", max_genres=1, max_moods=1)
    with library.session() as session:
        set_review(session, [accepted], "genre", None, "accepted")
        set_review(session, [edited], "genre", ["Ambient", "hip hop"], "edited")
        set_review(session, [rejected], "genre", None, "rejected")
        set_review(session, [rejected], "mood", None, "rejected")
        session.commit()
        ids = [accepted, edited, rejected, plain]
        plans = {p.track_id: p for p in planned_writes_with_reviews(session, ids, policy, vocabulary)}
        unreviewed = {p.track_id: p for p in plan_writes(session, ids, policy, vocabulary)}
    # accepted (values None): its own suggestions, capped by the policy, with mode replace.
    assert plans[accepted].new["genre"] == ["Electronic"]
    # edited: exactly the user's values (uncapped), replacing what the file has.
    assert plans[edited].new["genre"] == ["Ambient", "hip hop"]
    # rejected in both fields: nothing to write for that file.
    assert rejected not in plans
    assert rejected in unreviewed  # without the reviews its empty mood would be filled
    # unreviewed: exactly what plan_writes plans.
    assert plans.get(plain) == unreviewed.get(plain)
    # the unreviewed mood of a reviewed track follows the policy.
    assert plans[accepted].new.get("mood") == unreviewed[accepted].new.get("mood")


def test_reviewed_values_replace_a_tagged_file_and_undo_restores(library, tmp_path, vocabulary):
    track = add_track(library, tmp_path, "tagged.flac")
    path = tmp_path / "tagged.flac"
    before = read_tags(path)
    assert before.get("genre"), "the fixture is expected to have a genre"
    policy = WritePolicy(genre="fill", mood="skip")  # fill alone would leave a tagged genre
    with library.session() as session:
        set_review(session, [track], "genre", ["Jazz", "Lounge"], "edited")
        set_review(session, [track], "mood", ["Chill"], "accepted")  # mood is skipped by the policy
        session.commit()
        plans = planned_writes_with_reviews(session, [track], policy, vocabulary)
    assert set(plans[0].new) == {"genre"}
    assert "genre:" in format_diff(plans)
    report = apply_writes(library, plans, policy, "review test")
    assert report.written == 1 and not report.failed
    after = read_tags(path)
    assert after["genre"] == ["Jazz", "Lounge"]
    assert after.get("mood") == before.get("mood")
    undo_batch(library)
    assert read_tags(path).get("genre") == before["genre"]


def test_reviewed_values_go_into_the_comment_block(library, tmp_path, vocabulary):
    track = add_track(library, tmp_path, "untagged.mp3")
    policy = WritePolicy(genre="skip", mood="skip", comment_block=True)
    with library.session() as session:
        set_review(session, [track], "mood", ["Dreamy"], "edited")
        set_review(session, [track], "genre", None, "rejected")
        session.commit()
        plans = planned_writes_with_reviews(session, [track], policy, vocabulary)
    assert set(plans[0].new) == {"comment"}
    assert plans[0].new["comment"][0].endswith("[mood: Dreamy]")


def test_edited_track_without_analysis_is_planned(library, tmp_path, vocabulary):
    track = add_track(library, tmp_path, "untagged.mp3", labels={})
    with library.session() as session:
        assert plan_writes(session, [track], WritePolicy(), vocabulary) == []
        set_review(session, [track], "genre", ["Jazz"], "edited")
        session.commit()
        plans = planned_writes_with_reviews(session, [track], WritePolicy(), vocabulary)
    assert plans[0].new == {"genre": ["Jazz"]}


def test_suggestions_for_lists_scores_best_first(library, tmp_path):
    track = add_track(library, tmp_path, "untagged.mp3")
    with library.session() as session:
        found = suggestions_for(session, [track], min_score=0.2)
    assert found[track]["genre"] == [("Electronic", 0.8), ("Jazz", 0.6)]
    assert [label for label, _ in found[track]["mood"]] == ["Chill", "Mellow"]


_TEMPO_KEY_COLUMNS = {
    c.name for c in Track.__table__.columns if c.name.startswith(("bpm", "key", "tempo_key"))
}


def _make_v1_index(path: Path) -> None:
    """An index as release 1 left it: one track, today's tables less track_reviews, alembic_version and
    the tracks' energy and valence,
    ``meta.schema_version`` 1 (tests/data/library holds such files made by that release itself).
    """
    with open_library(path) as lib, lib.session() as session:
        session.add(
            Track(
                path_key=b"/music/old.mp3",
                path="/music/old.mp3",
                folder="/music",
                size=1,
                mtime_ns=1,
                file_tags={"genre": ["Jazz"]},
                scanned_at=datetime(2026, 1, 1),
                labels=[TrackLabel(category="genre", label="Jazz", score=0.9, rank=1)],
            )
        )
        session.commit()
    # A plain engine: no listeners, so nothing of the current code touches the file.
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE track_reviews"))
        connection.execute(text("DROP TABLE alembic_version"))
        # Nor the facet counts and their triggers of migration 0007, nor the search text of 0008.
        drop_triggers(connection)
        connection.execute(text("DROP TABLE label_facets"))
        search_text.drop_triggers(connection)
        connection.execute(text("DROP INDEX ix_tracks_search"))
        connection.execute(text("ALTER TABLE tracks DROP COLUMN search_text"))
        connection.execute(text("DROP INDEX ix_tracks_rescan"))  # nor 0009's
        connection.execute(text(f"DROP TABLE IF EXISTS {search_text.TRIGRAM_TABLE}"))  # nor 0010's
        # Nor 0014's label bits and 0015's folder digests, with their triggers.
        label_bits.drop_triggers(connection)
        connection.execute(text("DROP TABLE label_bits"))
        folder_digests.drop_triggers(connection)
        connection.execute(text("DROP TABLE folder_digests"))
        # Nor the query indexes of migration 0006 (some cover columns dropped below).
        for index in (
            "ix_tracks_title_order",
            "ix_tracks_artist_order",
            "ix_tracks_bpm_order",
            "ix_tracks_missing",
            "ix_track_labels_facets",
            "ix_track_labels_by_label",  # and 0011's
            "ix_tracks_path_order",  # and 0013's
            "ix_tracks_album_order",
        ):
            connection.execute(text(f"DROP INDEX {index}"))
        # Release 1 had no energy or valence either (migration 0003).
        connection.execute(text("DROP INDEX ix_tracks_energy"))
        connection.execute(text("ALTER TABLE tracks DROP COLUMN energy"))
        connection.execute(text("ALTER TABLE tracks DROP COLUMN valence"))
        connection.execute(text("ALTER TABLE tracks DROP COLUMN label_bits"))
        connection.execute(text("ALTER TABLE track_labels DROP COLUMN confident"))
        # Nor tempo and key (migration 0004).
        connection.execute(text("DROP INDEX ix_tracks_bpm"))
        connection.execute(text("DROP INDEX ix_tracks_key"))
        for column in sorted(_TEMPO_KEY_COLUMNS):
            connection.execute(text(f"ALTER TABLE tracks DROP COLUMN {column}"))
        # Nor the analysis mode (migration 0005): left in, 0005 added them a second time.
        connection.execute(text("ALTER TABLE analyses DROP COLUMN patch_starts"))
        connection.execute(text("ALTER TABLE analyses DROP COLUMN sampled"))
        connection.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()


def test_v1_index_upgrades_to_v2_with_rows_intact(tmp_path):
    old = tmp_path / "v1.sqlite"
    _make_v1_index(old)
    engine = create_engine(f"sqlite:///{old}")
    with engine.connect() as connection:
        assert legacy_schema_version(connection) == 1 and schema_revision(connection) is None
        assert not inspect(connection).has_table("track_reviews")
    engine.dispose()

    with open_library(old) as lib:
        with lib.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
            migrated = {c["name"]: c["nullable"] for c in inspect(connection).get_columns("track_reviews")}
        with lib.session() as session:
            track = session.query(Track).one()
            assert track.path == "/music/old.mp3" and track.file_tags == {"genre": ["Jazz"]}
            assert [(lbl.label, lbl.score) for lbl in track.labels] == [("Jazz", 0.9)]
            set_review(session, [track.id], "genre", ["Swing"], "edited")
            session.commit()
            assert reviews_for(session, [track.id])[track.id]["genre"].values == ("Swing",)

    # The migration's table is the model's table: same columns, same nullability.
    with open_library(tmp_path / "fresh.sqlite") as fresh, fresh.engine.connect() as connection:
        created = {c["name"]: c["nullable"] for c in inspect(connection).get_columns("track_reviews")}
    assert migrated == created
