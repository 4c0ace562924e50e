"""The folded search text the database keeps per track (library/search_text.py, migration 0008): whatever
writes a row, the one search finds it as before, on SQLite and PostgreSQL."""

from alembic import command
from helpers import insert_named_tracks
from sqlalchemy import inspect, update

from musictagger.library import Track, open_library
from musictagger.library.db import alembic_config
from musictagger.library.queries import tracks_by_id
from musictagger.library.track_filter import TrackFilter, filtered_ids


def found(library, text: str) -> list[str]:
    with library.session() as session:
        ids = filtered_ids(session, TrackFilter(text=text))
        return sorted(track.path for track in tracks_by_id(session, ids).values())


def add(connection, path: str, title: str, artist: str) -> None:
    insert_named_tracks(connection, [(path, title, artist)])


def test_rows_written_in_bulk_are_found_folded_and_follow_their_edits(library):
    with library.engine.begin() as connection:  # a bulk insert: no ORM event runs, the trigger does
        add(connection, "/music/halo.mp3", "Halo", "Beyoncé")
        add(connection, "/music/Straße.flac", "ＦＵＬＬ Moon", "Mötley Crüe")
    assert found(library, "beyonce") == ["/music/halo.mp3"]
    assert found(library, "MOTLEY") == found(library, "full moon") == found(library, "strasse")
    assert found(library, "strasse") == ["/music/Straße.flac"]
    with library.engine.begin() as connection:
        connection.execute(update(Track).where(Track.path == "/music/halo.mp3").values(title="Crazy in Love"))
    assert found(library, "halo") == ["/music/halo.mp3"]  # still in its path
    assert found(library, "crazy in") == ["/music/halo.mp3"]
    assert found(library, "love halo") == []  # the columns never run together


def test_an_index_of_the_previous_release_is_searchable_when_opened(library_url):
    with open_library(library_url) as library:
        with library.engine.begin() as connection:
            add(connection, "/music/a.mp3", "Café del Mar", "Énergie")
            command.downgrade(alembic_config(connection), "0007_label_facets")
        with library.engine.connect() as connection:
            assert "search_text" not in {c["name"] for c in inspect(connection).get_columns("tracks")}
    with open_library(library_url) as library:  # upgraded: the column filled, the triggers made
        assert found(library, "cafe del") == found(library, "energie") == ["/music/a.mp3"]
        with library.engine.begin() as connection:
            add(connection, "/music/b.mp3", "Ñandú", "x")
        assert found(library, "nandu") == ["/music/b.mp3"]
