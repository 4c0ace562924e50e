"""The label bits the database keeps (library/label_bits.py, migration 0014) always equal the OR of each
track's confident genres and moods, after every kind of change any writer makes, on SQLite and PostgreSQL.
(What a label + BPM filter answers from them: tests/test_query_indexes.py, the narrower BPM ranges.)"""

from alembic import command
from helpers import synthetic_track
from sqlalchemy import delete, insert, select, update

from musictagger.library import Track, TrackLabel, open_library
from musictagger.library.db import alembic_config, head_revision, schema_revision
from musictagger.library.label_bits import CAPACITY, mask_of
from musictagger.library.scanner import utc_now
from musictagger.library.schema import FILTER_CATEGORIES, LabelBit
from musictagger.library.track_filter import TrackFilter, filtered_ids

FILTER_OF = {member: category for category, members in FILTER_CATEGORIES.items() for member in members}


def add_tracks(library, first: int, count: int) -> None:
    now = utc_now()
    with library.session() as session, session.begin():
        for n in range(first, first + count):
            session.add(synthetic_track(n, now, bpm=float(100 + n % 9)))


def assert_bits_are_right(library) -> None:
    """Every track's bits, from its labels in Python; each label's bit distinct and a power of two."""
    with library.session() as session:
        masks = {(c, label): mask for c, label, mask in session.execute(select(LabelBit.__table__))}
        assert len(set(masks.values())) == len(masks) <= CAPACITY
        assert all(mask > 0 and mask & (mask - 1) == 0 for mask in masks.values())
        expected = {track_id: 0 for track_id in session.scalars(select(Track.id))}
        for track_id, category, label in session.execute(
            select(TrackLabel.track_id, TrackLabel.category, TrackLabel.label).where(TrackLabel.confident)
        ):
            if category in FILTER_OF:
                # Every confident label has a bit, until CAPACITY labels have one.
                assert (FILTER_OF[category], label) in masks or len(masks) == CAPACITY
                expected[track_id] |= masks.get((FILTER_OF[category], label), 0)
        got = dict(session.execute(select(Track.id, Track.label_bits)).all())
        assert got == expected


def test_every_kind_of_change_keeps_the_bits(library):
    add_tracks(library, 0, 60)
    assert_bits_are_right(library)
    with library.session() as session:
        assert mask_of(session, [("genre", "House"), ("mood", "Chill")]) is not None
        assert mask_of(session, [("genre", "Chill")]) is None  # a mood, not a genre
    with library.session() as session, session.begin():
        session.execute(update(TrackLabel).where(TrackLabel.label == "Chill").values(confident=True))
        session.execute(update(TrackLabel).where(TrackLabel.label == "Jazz").values(confident=False))
        session.execute(update(TrackLabel).where(TrackLabel.label == "Rock").values(label="Blues"))
        session.execute(update(TrackLabel).where(TrackLabel.label == "House").values(category="genre"))
        session.execute(delete(TrackLabel).where(TrackLabel.label == "Party", TrackLabel.track_id % 4 == 0))
    assert_bits_are_right(library)
    # A genre and a style of one name share a bit: the track keeps it while either is there.
    with library.session() as session, session.begin():
        styled = session.execute(
            select(TrackLabel.track_id).where(TrackLabel.category == "style", TrackLabel.confident)
        )
        session.execute(
            insert(TrackLabel),
            [
                dict(track_id=t, category="genre", label="Techno", score=0.9, rank=9, confident=True)
                for (t,) in styled
            ],
        )
        session.execute(
            delete(TrackLabel).where(TrackLabel.category == "style", TrackLabel.track_id % 2 == 1)
        )
    assert_bits_are_right(library)
    with library.session() as session, session.begin():
        session.execute(
            delete(TrackLabel).where(TrackLabel.category == "genre", TrackLabel.track_id % 2 == 0)
        )
    assert_bits_are_right(library)
    # Tracks deleted (the labels go by the cascade) and added; missing ones keep their bits.
    with library.session() as session, session.begin():
        session.execute(delete(Track).where(Track.id % 5 == 1))
        session.execute(update(Track).where(Track.id % 7 == 0).values(missing_since=utc_now()))
    add_tracks(library, 100, 10)
    assert_bits_are_right(library)


def test_labels_past_the_capacity_have_no_bit_and_the_filter_still_answers(library):
    add_tracks(library, 0, 20)
    with library.session() as session, session.begin():
        for n in range(CAPACITY + 5):
            session.execute(
                insert(TrackLabel).values(
                    track_id=1 + n % 20, category="mood", label=f"Mood {n}", score=0.9, rank=5, confident=True
                )
            )
    assert_bits_are_right(library)
    with library.session() as session:
        assert session.scalar(select(LabelBit.mask).order_by(LabelBit.mask.desc()).limit(1)) == 1 << 62
        last = f"Mood {CAPACITY + 4}"
        assert mask_of(session, [("mood", last)]) is None
        # Narrow BPM range (the bits' path) with a label without a bit: the labels' ids decide.
        got = filtered_ids(session, TrackFilter(genres=("House",), moods=(last,), bpm=(100.0, 108.0)))
        track = session.get(Track, 1 + (CAPACITY + 4) % 20)
        has_house = any(label.label == "House" and label.confident for label in track.labels)
        assert got == ([track.id] if has_house and track.missing_since is None else [])


def test_an_index_of_the_previous_release_gets_its_bits_when_opened(library_url):
    with open_library(library_url) as library:
        add_tracks(library, 0, 40)
        with library.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0013_table_order_indexes")
    with open_library(library_url) as library:  # the labels already there: bits given on the upgrade
        with library.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
        assert_bits_are_right(library)
        with library.session() as session:
            assert session.scalar(select(LabelBit.mask).where(LabelBit.label == "House")) is not None
        add_tracks(library, 300, 5)  # and kept from then on
        assert_bits_are_right(library)


def test_a_filter_at_a_score_of_its_own_does_not_answer_from_the_bits(library):
    # The bits hold confident labels only. ``list --mood Chill --min-score 0.6 --bpm 100`` counts Chill
    # where it scores 0.7 without being confident (odd tracks): the narrow range must not take the bits.
    from musictagger.library.track_filter import _bpm_range_is_narrower

    add_tracks(library, 0, 90)
    with library.session() as session:
        narrow = TrackFilter(moods=("Chill",), bpm=(100.0, 100.0), min_score=0.6)
        assert _bpm_range_is_narrower(session, narrow)
        expected = sorted(
            track.id
            for track in session.scalars(
                select(Track).where(Track.bpm == 100.0, Track.missing_since.is_(None))
            )
            if any(label.label == "Chill" and label.score >= 0.6 for label in track.labels)
        )
        assert any(
            not label.confident
            for i in expected
            for label in session.get(Track, i).labels
            if label.label == "Chill"
        )
        assert sorted(filtered_ids(session, narrow)) == expected
        confident = TrackFilter(moods=("Chill",), bpm=(100.0, 100.0))
        assert set(filtered_ids(session, confident)) < set(expected)
