"""The facet counts the database keeps (library/facet_counts.py, migration 0007) always equal a full count
of the labels, after every kind of change any writer makes, on SQLite and PostgreSQL."""

from alembic import command
from helpers import synthetic_track
from sqlalchemy import delete, inspect, select, update

from musictagger.library import Track, TrackLabel, open_library
from musictagger.library.db import alembic_config, head_revision, schema_revision
from musictagger.library.queries import facet_counts, label_counts
from musictagger.library.scanner import utc_now


def add_tracks(library, first: int, count: int) -> None:
    now = utc_now()
    with library.session() as session, session.begin():
        for n in range(first, first + count):
            session.add(synthetic_track(n, now))


def assert_counts_are_right(library) -> None:
    with library.session() as session:
        for category in ("genre", "mood"):
            counted = label_counts(session, category, 0.0, confident_only=True)
            assert facet_counts(session, category) == counted


def test_every_kind_of_change_keeps_the_counts(library):
    add_tracks(library, 0, 60)
    assert_counts_are_right(library)
    with library.session() as session:
        assert dict(facet_counts(session, "genre"))["House"] == 54  # every track has it; 6 of 60 are missing
    # Labels change: confidence flips (the relabelling), a label renamed, labels deleted and added.
    with library.session() as session, session.begin():
        session.execute(update(TrackLabel).where(TrackLabel.label == "Chill").values(confident=True))
        session.execute(update(TrackLabel).where(TrackLabel.label == "Jazz").values(confident=False))
        session.execute(update(TrackLabel).where(TrackLabel.label == "Rock").values(label="Blues"))
        session.execute(delete(TrackLabel).where(TrackLabel.label == "Party", TrackLabel.track_id % 4 == 0))
    assert_counts_are_right(library)
    # Tracks go missing and come back.
    with library.session() as session, session.begin():
        session.execute(update(Track).where(Track.id % 3 == 0).values(missing_since=utc_now()))
        session.execute(update(Track).where(Track.id % 10 == 4).values(missing_since=None))
    assert_counts_are_right(library)
    # Tracks deleted: in bulk (the scanner's purge: the labels go by the foreign key's cascade), and one
    # through the ORM (its labels deleted first).
    with library.session() as session, session.begin():
        session.execute(delete(Track).where(Track.id % 5 == 1))
        session.delete(session.scalars(select(Track).where(Track.missing_since.is_(None))).first())
    assert_counts_are_right(library)
    add_tracks(library, 100, 10)
    assert_counts_are_right(library)
    with library.session() as session:
        assert facet_counts(session, "genre") and facet_counts(session, "mood")


def test_an_index_of_the_previous_release_is_counted_when_opened(library_url):
    with open_library(library_url) as library:
        add_tracks(library, 0, 40)
        with library.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0006_query_indexes")
        with library.engine.connect() as connection:
            assert "label_facets" not in inspect(connection).get_table_names()
    with open_library(library_url) as library:  # the labels already there: counted after the upgrade
        with library.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
        assert_counts_are_right(library)
        add_tracks(library, 300, 5)  # and kept from then on
        assert_counts_are_right(library)
