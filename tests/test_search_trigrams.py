"""The trigram indexes of the search text (library/search_text.py): SQLite's FTS5 table (migration 0010)
and PostgreSQL's GIN index on each text's trigrams (migration 0012). A search of three characters or
more is answered from them and finds exactly what "the folded text contains the folded needle" finds, as
rows are added, renamed and removed, after an upgrade, and (SQLite) without FTS5."""

import random

import pytest
from alembic import command
from helpers import insert_named_tracks
from sqlalchemy import delete, func, inspect, select, text, update

from musictagger.library import LibraryError, Track, open_library, search_text
from musictagger.library.db import alembic_config
from musictagger.library.folding import fold_text
from musictagger.library.queries import search_condition, tracks_by_id
from musictagger.library.track_filter import TrackFilter, filtered_ids

# Letters a library's names are made of, and the ones that make a search rule go wrong: accents and
# ligatures that fold to two letters, full-width forms, Cyrillic, Japanese, quotes (the FTS5 phrase's own
# syntax), FTS5 operators, LIKE's wildcards, spaces.
ALPHABET = "aabcdeéÉßfiﬁoöØxyz  ЖжЯ日本ｆｕ\"'*-_%:^()"


def add_rows(library, rows: list[tuple[str, str, str]]) -> None:
    with library.engine.begin() as connection:
        insert_named_tracks(connection, rows)


def found(library, needle: str) -> set[str]:
    with library.session() as session:
        ids = filtered_ids(session, TrackFilter(text=needle))
        return {track.path for track in tracks_by_id(session, ids).values()}


def expected(library, needle: str) -> set[str]:
    """The rule itself, in Python: the folded columns contain the folded needle."""
    folded = fold_text(needle.strip())
    with library.session() as session:
        tracks = session.scalars(select(Track)).all()
        return {
            t.path
            for t in tracks
            if any(folded in fold_text(value) for value in (t.path, t.title, t.artist, t.album) if value)
        }


def trigram_rows(library) -> dict[int, str]:
    with library.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT rowid, search_text FROM {search_text.TRIGRAM_TABLE}"))
        return dict(rows.all())


def search_text_rows(library) -> dict[int, str]:
    with library.engine.connect() as connection:
        return dict(connection.execute(select(Track.id, Track.search_text)).all())


@pytest.fixture
def sqlite_library(tmp_path):
    with open_library(tmp_path / "index.sqlite") as library:
        yield library


def test_searches_compile_to_the_trigram_index_from_three_characters(sqlite_library):
    def statement(needle: str) -> str:
        return str(select(Track.id).where(search_condition(needle)).compile(sqlite_library.engine))

    assert search_text.TRIGRAM_TABLE in statement("abc")
    assert search_text.TRIGRAM_TABLE in statement("ÉTÉ")  # folded: "ete"
    assert search_text.TRIGRAM_TABLE not in statement("ab")  # too short for a trigram: the scan
    assert search_text.TRIGRAM_TABLE not in statement("ß")  # folds to "ss": still too short


@pytest.mark.parametrize("library_url", ["postgresql"], indirect=True)
def test_postgresql_searches_compile_to_the_trigram_index_from_three_characters(library):

    def statement(needle: str) -> str:
        return str(select(Track.id).where(search_condition(needle)).compile(library.engine))

    assert search_text.PG_TRIGRAMS_FUNCTION in statement("abc")
    assert search_text.PG_TRIGRAMS_FUNCTION not in statement("ab")  # the scan


@pytest.mark.parametrize("library_url", ["postgresql"], indirect=True)
def test_postgresql_plan_reads_the_trigram_index(library):
    """With sequential scans priced out (as on a big table), the search is a bitmap scan of
    ``ix_tracks_search_trigrams``, and its answer is the rule's."""
    rows = [(f"/music/{n:04d}.mp3", f"T{n}", "Midnight" if n % 100 == 0 else "Artist") for n in range(2000)]
    add_rows(library, rows)
    query = select(Track.id).where(search_condition("Midnight"))
    # Rows added after the index was made wait in GIN's pending list until a vacuum (autovacuum, on a
    # real server) merges them; the planner prices that list as read in full.
    with library.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE tracks"))
    with library.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        plan = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert search_text.PG_TRIGRAM_INDEX in plan, plan
    assert found(library, "Midnight") == expected(library, "Midnight")


@pytest.mark.parametrize("library_url", ["postgresql"], indirect=True)
def test_postgresql_index_of_the_previous_release_gets_the_trigram_index(library):
    add_rows(library, [("/music/a.mp3", "Café del Mar", "Énergie"), ("/music/b.mp3", "Other", "Y")])
    url = library.engine.url.render_as_string(hide_password=False)
    with library.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0011_label_filter_index")
    with library.engine.connect() as connection:
        names = {index["name"] for index in inspect(connection).get_indexes("tracks")}
    assert search_text.PG_TRIGRAM_INDEX not in names
    library.close()
    with open_library(url) as upgraded:
        with upgraded.engine.connect() as connection:
            names = {i["name"] for i in inspect(connection).get_indexes("tracks")}
        assert search_text.PG_TRIGRAM_INDEX in names
        assert found(upgraded, "cafe del") == {"/music/a.mp3"}
        add_rows(upgraded, [("/music/c.mp3", "Ñandú", "Z")])
        assert found(upgraded, "nandu") == {"/music/c.mp3"}


def test_the_trigram_index_finds_exactly_what_the_rule_finds(library):
    sqlite_library = library  # both databases: pytest's library fixture runs it on SQLite and PostgreSQL
    rng = random.Random(20261204)

    def word(low: int, high: int) -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))

    rows = [(f"/music/{n:03d} {word(0, 8)}.mp3", word(0, 12), word(0, 10)) for n in range(300)]
    add_rows(sqlite_library, rows)
    needles = ['"', '""', 'a"b', "a*", "x OR y", "NEAR(", "ﬁ", "ＦＵ", "ЖЖ", "日本", ".mp3", "/music/0"]
    for path, title, artist in rng.sample(rows, 60):  # pieces of real rows, so most needles match
        source = rng.choice([path, title, artist]) or path
        start = rng.randrange(len(source))
        needles.append(source[start : start + rng.randint(1, 6)])
    needles += [word(1, 5) for _ in range(60)]  # and random ones, which mostly do not
    compared = matched = 0
    for needle in needles:
        if not needle.strip():
            continue
        assert found(sqlite_library, needle) == expected(sqlite_library, needle), repr(needle)
        compared += 1
        matched += bool(expected(sqlite_library, needle))
    assert compared > 100 and matched > 50  # the comparison ran, and on needles that match


def test_the_index_follows_renames_and_removals(library):
    sqlite_library = library
    add_rows(sqlite_library, [("/music/halo.mp3", "Halo", "Beyoncé"), ("/music/b.mp3", "Crazy", "X")])
    assert found(sqlite_library, "beyonce") == {"/music/halo.mp3"}
    with sqlite_library.engine.begin() as connection:
        connection.execute(update(Track).where(Track.path == "/music/halo.mp3").values(artist="Shakira"))
    assert found(sqlite_library, "beyonce") == set()
    assert found(sqlite_library, "shakira") == {"/music/halo.mp3"}
    with sqlite_library.engine.begin() as connection:
        connection.execute(delete(Track).where(Track.path == "/music/halo.mp3"))
    assert found(sqlite_library, "shakira") == set()
    if library.engine.dialect.name == "sqlite":
        assert trigram_rows(sqlite_library) == search_text_rows(sqlite_library)  # nothing left behind


def test_an_index_of_the_previous_release_gets_the_trigram_index_filled(tmp_path):
    path = tmp_path / "index.sqlite"
    with open_library(path) as library:
        add_rows(library, [("/music/a.mp3", "Café del Mar", "Énergie"), ("/music/b.mp3", "Other", "Y")])
        with library.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0009_rescan_index")
        with library.engine.connect() as connection:
            assert not inspect(connection).has_table(search_text.TRIGRAM_TABLE)
    with open_library(path) as library:  # upgraded: the table made and filled, its triggers made
        assert len(trigram_rows(library)) == 2
        assert trigram_rows(library) == search_text_rows(library)
        assert found(library, "cafe del") == {"/music/a.mp3"}
        add_rows(library, [("/music/c.mp3", "Ñandú", "Z")])
        assert found(library, "nandu") == {"/music/c.mp3"}


def test_an_index_made_without_fts5_gets_it_when_opened_with_fts5(tmp_path, monkeypatch):
    path = tmp_path / "index.sqlite"
    monkeypatch.setattr(search_text, "trigrams_supported", lambda: False)  # a SQLite built without FTS5
    with open_library(path) as library:
        add_rows(library, [("/music/a.mp3", "Café del Mar", "Énergie")])
        with library.engine.connect() as connection:
            assert not inspect(connection).has_table(search_text.TRIGRAM_TABLE)
        assert found(library, "cafe del") == {"/music/a.mp3"}  # the scan, same answer
    monkeypatch.undo()
    with open_library(path) as library:
        assert trigram_rows(library) == search_text_rows(library)
        assert found(library, "cafe del") == {"/music/a.mp3"}
        add_rows(library, [("/music/b.mp3", "Other", "Énergie")])
        assert found(library, "energie") == {"/music/a.mp3", "/music/b.mp3"}


def test_an_index_with_the_trigram_index_is_refused_clearly_without_fts5(tmp_path, monkeypatch):
    path = tmp_path / "index.sqlite"
    with open_library(path) as library:
        add_rows(library, [("/music/a.mp3", "A", "B")])
    monkeypatch.setattr(search_text, "trigrams_supported", lambda: False)
    with pytest.raises(LibraryError, match="FTS5"):
        open_library(path)
    monkeypatch.undo()
    with open_library(path) as library, library.engine.connect() as connection:  # nothing was changed
        assert connection.execute(select(func.count()).select_from(Track)).scalar() == 1
